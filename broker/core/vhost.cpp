// core/vhost.cpp: see core/vhost.h.
#include "core/vhost.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

namespace weftd {

VHost::VHost(std::string name, QueueStoreFactory& stores, metrics::Registry& registry)
    : name_(std::move(name)), stores_(stores), registry_(registry) {
  auto add = [&](const char* n, ExchangeType t) {
    ExchangeOptions o;
    o.durable = true;
    exchanges_[n] = make_exchange(n, t, o);
  };
  add("", ExchangeType::direct);  // the default exchange: routes by queue name
  add("amq.direct", ExchangeType::direct);
  add("amq.fanout", ExchangeType::fanout);
  add("amq.topic", ExchangeType::topic);
  add("amq.headers", ExchangeType::headers);
  add("amq.match", ExchangeType::headers);
}

VHost::~VHost() {
  for (auto& [name, e] : exchanges_) e->clear();
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
  if (!slot) slot = make_exchange(name, type, opts);
  return slot;
}

void VHost::delete_exchange(const ExchangePtr& e) {
  {
    std::lock_guard lock(mu_);
    auto it = exchanges_.find(e->name());
    if (it == exchanges_.end() || it->second != e) return;
    exchanges_.erase(it);
  }
  std::vector<ExchangePtr> emptied;
  {
    std::lock_guard lock(bind_mu_);
    forget_destination(Destination{nullptr, e}, &emptied);
    // Its own bindings go with it, and with them its entries in the reverse index.
    for (const Destination& d : e->clear()) {
      auto it = sources_.find(d.id());
      if (it == sources_.end()) continue;
      it->second.erase(e.get());
      if (it->second.empty()) sources_.erase(it);
    }
  }
  for (auto& x : emptied) delete_exchange(x);
}

QueuePtr VHost::declare_queue(const std::string& name, const QueueOptions& opts, bool* created) {
  std::lock_guard lock(mu_);
  auto& slot = queues_[name];
  *created = !slot;
  if (!slot)
    slot = std::make_shared<Queue>(name, opts, stores_.make(name_, name, opts),
                                   registry_.add_queue(name_, name));
  return slot;
}

std::size_t VHost::delete_queue(const QueuePtr& q) {
  {
    std::lock_guard lock(mu_);
    auto it = queues_.find(q->name());
    if (it == queues_.end() || it->second != q) return 0;
    queues_.erase(it);
  }
  std::vector<ExchangePtr> emptied;
  {
    std::lock_guard lock(bind_mu_);
    forget_destination(Destination{q, nullptr}, &emptied);
  }
  for (auto& e : emptied) delete_exchange(e);
  return q->mark_deleted();
}

void VHost::forget_destination(const Destination& d, std::vector<ExchangePtr>* emptied) {
  auto it = sources_.find(d.id());
  if (it == sources_.end()) return;
  for (auto& [raw, e] : it->second)
    if (e->unbind_destination(d) && e->options().auto_delete) emptied->push_back(e);
  sources_.erase(it);
}

bool VHost::declared(const Destination& d) {
  std::shared_lock lock(mu_);
  if (d.queue) {
    auto it = queues_.find(d.queue->name());
    return it != queues_.end() && it->second == d.queue;
  }
  auto it = exchanges_.find(d.exchange->name());
  return it != exchanges_.end() && it->second == d.exchange;
}

bool VHost::bind(const ExchangePtr& source, const Destination& d, const std::string& key,
                 const weft::amqp::FieldTable& args) {
  std::lock_guard lock(bind_mu_);
  if (!declared(d) || !declared(Destination{nullptr, source})) return false;
  source->bind(d, key, args);
  sources_[d.id()].emplace(source.get(), source);
  return true;
}

bool VHost::unbind(const ExchangePtr& source, const Destination& d, const std::string& key,
                   const weft::amqp::FieldTable& args) {
  bool emptied = false;
  {
    std::lock_guard lock(bind_mu_);
    if (!source->unbind(d, key, args)) return false;
    emptied = source->options().auto_delete && source->binding_count() == 0;
  }
  // As RabbitMQ does: an auto-delete exchange goes with its last binding, however
  // that binding went.
  if (emptied) delete_exchange(source);
  return true;
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
  RoutingInput in(m);
  route_into(e, in, out, &seen);
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void VHost::route_into(const ExchangePtr& e, RoutingInput& in, std::vector<QueuePtr>* out,
                       std::vector<Exchange*>* seen) {
  if (std::find(seen->begin(), seen->end(), e.get()) != seen->end()) return;
  seen->push_back(e.get());
  const std::size_t before = out->size();
  if (e->name().empty()) {
    if (QueuePtr q = find_queue(in.routing_key())) out->push_back(std::move(q));
  } else {
    std::vector<Destination> dests;
    e->route(in, &dests);
    for (Destination& d : dests) {
      if (d.queue)
        out->push_back(std::move(d.queue));
      else
        route_into(d.exchange, in, out, seen);
    }
  }
  if (out->size() == before) {
    std::string ae = e->alternate_exchange();
    if (!ae.empty())
      if (ExchangePtr alt = find_exchange(ae)) route_into(alt, in, out, seen);
  }
}

}  // namespace weftd
