// metrics/metrics.cpp: see metrics/metrics.h.
#include "metrics/metrics.h"

#include <mutex>

namespace weftd::metrics {

namespace {

// sample_all() appends copy(block) for every live block of `list` and compacts the
// list (dead entries out).
template <class T, class S, class F>
void sample_all(std::vector<std::weak_ptr<T>>& list, std::vector<S>* out, F copy) {
  std::size_t keep = 0;
  for (std::size_t i = 0; i < list.size(); i++) {
    if (auto p = list[i].lock()) {
      out->push_back(copy(*p));
      if (keep != i) list[keep] = std::move(list[i]);  // (a self-move would empty it)
      keep++;
    }
  }
  list.resize(keep);
}

// add_to() registers a new block, and every so often drops dead entries so that a
// broker whose objects come and go without being snapshotted keeps a bounded list.
template <class T>
void add_to(std::vector<std::weak_ptr<T>>& list, const std::shared_ptr<T>& p) {
  if (list.size() >= 64 && (list.size() & (list.size() - 1)) == 0)
    std::erase_if(list, [](const std::weak_ptr<T>& w) { return w.expired(); });
  list.push_back(p);
}

}  // namespace

std::shared_ptr<QueueStats> Registry::add_queue(std::string vhost, std::string name) {
  auto p = std::make_shared<QueueStats>();
  p->vhost = std::move(vhost);
  p->name = std::move(name);
  std::lock_guard lock(mu_);
  add_to(queues_, p);
  return p;
}

std::shared_ptr<ChannelStats> Registry::add_channel(std::uint64_t connection,
                                                    std::uint16_t channel) {
  auto p = std::make_shared<ChannelStats>();
  p->connection = connection;
  p->channel = channel;
  std::lock_guard lock(mu_);
  add_to(channels_, p);
  return p;
}

std::shared_ptr<ConnectionStats> Registry::add_connection(std::uint64_t id, std::string peer) {
  auto p = std::make_shared<ConnectionStats>();
  p->id = id;
  p->peer = std::move(peer);
  std::lock_guard lock(mu_);
  add_to(connections_, p);
  return p;
}

Snapshot Registry::snapshot() {
  Snapshot s;
  {
    std::lock_guard lock(mu_);
    sample_all(queues_, &s.queues, [](const QueueStats& q) {
      return QueueSample{q.vhost,
                         q.name,
                         q.published.load(),
                         q.delivered.load(),
                         q.acked.load(),
                         q.redelivered.load(),
                         q.ready.load(),
                         q.consumers.load()};
    });
    sample_all(channels_, &s.channels, [](const ChannelStats& c) {
      return ChannelSample{c.connection,       c.channel,          c.published.load(),
                           c.confirmed.load(), c.delivered.load(), c.got.load(),
                           c.acked.load(),     c.unacked.load(),   c.consumers.load()};
    });
    sample_all(connections_, &s.connections, [](const ConnectionStats& c) {
      const bool open = c.open.load(std::memory_order_acquire);
      return ConnectionSample{c.id,
                              c.peer,
                              open ? c.user : std::string(),
                              open ? c.vhost : std::string(),
                              open,
                              c.channels.load(),
                              c.recv_bytes.load(),
                              c.send_bytes.load()};
    });
  }
  s.message_bytes = message_bytes.load();
  s.memory_high_watermark = memory_high_watermark.load(std::memory_order_relaxed);
  s.paged_messages = paged_messages.load();
  s.paged_bytes = paged_bytes.load();
  s.paged_total = paged_total.load();
  return s;
}

}  // namespace weftd::metrics
