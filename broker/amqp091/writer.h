// amqp091/writer.h: a connection's output -- the frames queued for the client and the
// writer fiber that sends them (RabbitMQ's rabbit_writer).
//
// Any fiber appends frames (send_method(), send_content()) under the output lock; frames
// for one channel keep their order. The writer sleeps on a one-slot "kick" channel;
// whoever appends frames kicks it, and it writes everything that has accumulated with
// one system call. A kick while one is pending is a no-op, so a burst of deliveries
// costs one wake-up and one write, not one per message. The writer exists while there
// is output: after a second without writing it retires, and the next kick starts a new
// one, so an idle connection costs one fiber stack (its reader), not two.
//
// Backpressure: a consumer whose connection has max_backlog bytes waiting stops taking
// deliveries (backlogged()); the queue is remembered and dispatched again once the
// writer has drained the buffer.
//
// Lock order: the output lock is the last in every order (a queue's, then a channel's,
// then this). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/queue.h"
#include "metrics/metrics.h"
#include "weft/amqp/frame.h"
#include "weft/chan.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/net.h"
#include "weft/waitgroup.h"

namespace weftd {

class Writer {
 public:
  // conn and stats outlive the writer. max_backlog: see backlogged().
  Writer(weft::net::TcpConn& conn, std::size_t max_backlog, metrics::ConnectionStats& stats);

  // set_frame_max() sets the negotiated frame size. Before any output.
  void set_frame_max(std::uint32_t frame_max) { out_.set_frame_max(frame_max); }
  // set_labels(): the profile labels of the writer fibers it starts. Before any output.
  void set_labels(weft::PreparedLabels labels) { labels_ = std::move(labels); }

  void send_method(std::uint16_t channel, const weft::amqp::Method& m);
  // send_content(): a method with its content; the properties as wire bytes (Message).
  void send_content(std::uint16_t channel, const weft::amqp::Method& m,
                    std::string_view properties_wire, std::string_view body);
  // send_heartbeat() queues a heartbeat frame; false once the output is closed.
  bool send_heartbeat();
  // backlogged(): output has piled up past max_backlog; q will be dispatched again once
  // it drains.
  bool backlogged(const std::shared_ptr<Queue>& q);

  // close() takes no more output; a writer flushes what is queued and ends. wait()
  // returns once it has.
  void close();
  void wait() { writers_.wait(); }

  // When the writer last wrote (steady clock, ns), and whether a write failed (the
  // socket is then closed, which the reader sees).
  std::int64_t last_write_ns() const { return last_write_ns_.load(std::memory_order_relaxed); }
  void note_write_time(std::int64_t ns) { last_write_ns_.store(ns, std::memory_order_relaxed); }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  void kick();
  // start_writer() starts a writer unless one is running; returns whether it did.
  bool start_writer();
  // loop() writes what send_*() queued, one write per batch, until closed or idle.
  void loop();

  weft::net::TcpConn& conn_;
  const std::size_t max_backlog_;
  metrics::ConnectionStats& stats_;

  weft::Mutex mu_;  // the output lock: guards the four fields below
  weft::amqp::FrameEncoder out_;
  std::vector<std::weak_ptr<Queue>> backlogged_;
  bool closed_ = false;

  std::atomic<std::size_t> out_bytes_{0};  // out_'s size, read without the lock
  weft::Chan<int> kick_{1};
  std::atomic<bool> running_{false};  // a writer fiber runs (see kick())
  weft::WaitGroup writers_;           // the running writer, if any
  weft::PreparedLabels labels_;
  std::atomic<std::int64_t> last_write_ns_{0};
  std::atomic<bool> failed_{false};
};

}  // namespace weftd
