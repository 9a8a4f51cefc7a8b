// amqp091/writer.cpp: see amqp091/writer.h.
#include "amqp091/writer.h"

#include <chrono>
#include <mutex>

#include "base/clock.h"
#include "weft/runtime.h"
#include "weft/select.h"
#include "weft/time.h"

namespace weftd {

namespace amqp = weft::amqp;

Writer::Writer(weft::net::TcpConn& conn, std::size_t max_backlog, metrics::ConnectionStats& stats)
    : conn_(conn), max_backlog_(max_backlog), stats_(stats) {}

// The writer runs while there is output: kick() wakes it, or starts one when the last
// retired. The handover is lock-free: the writer clears running_ and then looks for
// output once more (under mu_, where senders append), so a sender either sees the flag
// cleared and starts a writer, or appended before that last look and the retiring
// writer stays.
void Writer::kick() {
  if (!running_.load(std::memory_order_acquire) && start_writer()) return;
  try {
    kick_.try_send(1);  // full: a kick is pending already, and that one will do
  } catch (const weft::ChanClosedError&) {
    // The connection is ending; its writer has done its last flush.
  }
}

bool Writer::start_writer() {
  // Counted before the flag is taken, so that wait(), after close() has taken the flag
  // itself, never misses one that is being started.
  writers_.add(1);
  if (running_.exchange(true, std::memory_order_acq_rel)) {
    writers_.done();
    return false;
  }
  weft::go("weftd-writer", [this, wg = writers_] {
    weft::ScopedLabels labels(labels_);
    loop();
    wg.done();
  });
  return true;
}

void Writer::send_method(std::uint16_t channel, const amqp::Method& m) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    out_.method(channel, m);
    out_bytes_.store(out_.buffer().size(), std::memory_order_relaxed);
  }
  kick();
}

void Writer::send_content(std::uint16_t channel, const amqp::Method& m,
                          std::string_view properties_wire, std::string_view body) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    out_.content_wire(channel, m, properties_wire, body);
    out_bytes_.store(out_.buffer().size(), std::memory_order_relaxed);
  }
  kick();
}

bool Writer::send_heartbeat() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    out_.heartbeat();
  }
  kick();
  return true;
}

bool Writer::backlogged(const std::shared_ptr<Queue>& q) {
  if (out_bytes_.load(std::memory_order_relaxed) < max_backlog_) return false;
  std::lock_guard lock(mu_);
  if (out_.buffer().size() < max_backlog_) return false;
  // Each queue once: a publisher hitting the backlog on every message must not grow the
  // list the writer walks after each write.
  for (const auto& w : backlogged_)
    if (!w.owner_before(q) && !q.owner_before(w)) return true;
  backlogged_.push_back(q);
  return true;
}

void Writer::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  kick_.close();   // a writer flushes what is left (a close-ok, say) and returns
  start_writer();  // (a new one, if none is running)
}

void Writer::loop() {
  // A new writer was started for output that is already there: write first, then wait.
  auto idle = weft::tick(std::chrono::seconds(1));
  bool wrote = false;  // since the last tick
  bool open = true;
  std::string batch;
  for (;;) {
    std::vector<std::weak_ptr<Queue>> again;
    {
      std::lock_guard lock(mu_);
      batch.swap(out_.buffer());  // the encoder keeps the old batch's capacity
      out_.buffer().clear();
      out_bytes_.store(0, std::memory_order_relaxed);
      again.swap(backlogged_);
    }
    if (!batch.empty()) {
      // Everything that accumulated since the last write goes out in one system call.
      if (!conn_.write(batch)) {
        failed_.store(true, std::memory_order_relaxed);
        conn_.close();  // the reader sees it and ends the connection
        return;
      }
      last_write_ns_.store(monotonic_ns(), std::memory_order_relaxed);
      stats_.send_bytes.add(static_cast<std::int64_t>(batch.size()));
      wrote = true;
      batch.clear();
    }
    for (auto& w : again)
      if (auto q = w.lock()) q->dispatch();
    if (!open) return;
    bool tick = false;
    weft::select(weft::on_recv(kick_, [&](std::optional<int> v) { open = v.has_value(); }),
                 weft::on_recv(idle, [&](auto) { tick = true; }));
    if (tick && !std::exchange(wrote, false)) {
      // A second without output: retire (see kick()).
      running_.store(false, std::memory_order_seq_cst);
      bool pending;
      {
        std::lock_guard lock(mu_);
        pending = !out_.empty() || !backlogged_.empty();
      }
      if (!pending || running_.exchange(true, std::memory_order_acq_rel)) return;
    }
  }
}

}  // namespace weftd
