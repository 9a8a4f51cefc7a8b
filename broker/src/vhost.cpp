// vhost.cpp: see vhost.h.
#include "vhost.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

namespace weftd {

VHost::VHost(std::string name) : name_(std::move(name)) {
  auto add = [&](const char* n, ExchangeType t) {
    ExchangeOptions o;
    o.durable = true;
    exchanges_[n] = std::make_shared<Exchange>(n, t, o);
  };
  add("", ExchangeType::direct);  // the default exchange: routes by queue name
  add("amq.direct", ExchangeType::direct);
  add("amq.fanout", ExchangeType::fanout);
  add("amq.topic", ExchangeType::topic);
  add("amq.headers", ExchangeType::headers);
  add("amq.match", ExchangeType::headers);
}

ExchangePtr VHost::find_exchange(const std::string& name) {
  std::shared_lock lock(mu_);
  auto it = exchanges_.find(name);
  return it == exchanges_.end() ? nullptr : it->second;
}

QueuePtr VHost::find_queue(const std::string& name) {
  std::shared_lock lock(mu_);
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second;
}

ExchangePtr VHost::declare_exchange(const std::string& name, ExchangeType type,
                                    const ExchangeOptions& opts, bool* created) {
  std::lock_guard lock(mu_);
  auto& slot = exchanges_[name];
  *created = !slot;
  if (!slot) slot = std::make_shared<Exchange>(name, type, opts);
  return slot;
}

void VHost::delete_exchange(const ExchangePtr& e) {
  {
    std::lock_guard lock(mu_);
    auto it = exchanges_.find(e->name());
    if (it == exchanges_.end() || it->second != e) return;
    exchanges_.erase(it);
  }
  forget_destination(Destination{nullptr, e});
}

QueuePtr VHost::declare_queue(const std::string& name, const QueueOptions& opts, bool* created) {
  std::lock_guard lock(mu_);
  auto& slot = queues_[name];
  *created = !slot;
  if (!slot) slot = std::make_shared<Queue>(name, opts);
  return slot;
}

std::size_t VHost::delete_queue(const QueuePtr& q) {
  {
    std::lock_guard lock(mu_);
    auto it = queues_.find(q->name());
    if (it == queues_.end() || it->second != q) return 0;
    queues_.erase(it);
  }
  forget_destination(Destination{q, nullptr});
  return q->mark_deleted();
}

void VHost::forget_destination(const Destination& d) {
  std::vector<ExchangePtr> all, emptied;
  {
    std::shared_lock lock(mu_);
    for (auto& [n, e] : exchanges_) all.push_back(e);
  }
  for (auto& e : all)
    if (e->unbind_destination(d) && e->options().auto_delete) emptied.push_back(e);
  for (auto& e : emptied) delete_exchange(e);
}

std::vector<QueuePtr> VHost::queues_owned_by(std::uint64_t connection_id) {
  std::vector<QueuePtr> out;
  std::shared_lock lock(mu_);
  for (auto& [n, q] : queues_)
    if (q->options().exclusive && q->options().owner == connection_id) out.push_back(q);
  return out;
}

void VHost::route(const ExchangePtr& e, const Message& m, std::vector<QueuePtr>* out) {
  std::vector<Exchange*> seen;
  route_into(e, m, out, &seen);
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void VHost::route_into(const ExchangePtr& e, const Message& m, std::vector<QueuePtr>* out,
                       std::vector<Exchange*>* seen) {
  if (std::find(seen->begin(), seen->end(), e.get()) != seen->end()) return;
  seen->push_back(e.get());
  const std::size_t before = out->size();
  if (e->name().empty()) {
    if (QueuePtr q = find_queue(m.routing_key)) out->push_back(std::move(q));
  } else {
    std::vector<Destination> dests;
    e->route(m, &dests);
    for (Destination& d : dests) {
      if (d.queue)
        out->push_back(std::move(d.queue));
      else
        route_into(d.exchange, m, out, seen);
    }
  }
  if (out->size() == before) {
    std::string ae = e->alternate_exchange();
    if (!ae.empty())
      if (ExchangePtr alt = find_exchange(ae)) route_into(alt, m, out, seen);
  }
}

}  // namespace weftd
