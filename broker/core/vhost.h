// core/vhost.h: a virtual host -- its exchanges and queues, and routing across them.
//
// The name maps are guarded by one weft::RWMutex, taken shared for lookups (every
// publish looks its exchange up) and exclusively only to declare or delete. Routing
// itself runs under the exchanges' own locks (exchange.h), so publishers to different
// exchanges and queues do not serialize on anything global.
//
// Bindings change through the vhost, under bind_mu_, which also keeps the reverse
// index: for each queue and exchange, the exchanges that bind it (a superset: an unbind
// leaves its entry, which the destination's deletion clears). Deleting a queue visits
// only those exchanges, not every exchange of the vhost; and a bind checks, under the
// same lock, that its queue and exchange still exist, so a binding cannot outlive a
// queue deleted at the same moment. Lock order: bind_mu_ → mu_ → an exchange's lock.
//
// Only "/" exists until users, vhosts and permissions arrive (a later issue); the layer is
// here so that they have a place to go.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/exchange.h"
#include "core/queue.h"
#include "core/queue_store.h"
#include "metrics/metrics.h"
#include "weft/mutex.h"
#include "weft/rwmutex.h"

namespace weftd {

class VHost {
 public:
  // stores: makes each new queue's store; registry: where its queues' stats go. Both
  // outlive the vhost.
  VHost(std::string name, QueueStoreFactory& stores, metrics::Registry& registry);
  // ~VHost() drops every binding first: exchange-to-exchange bindings may form cycles of
  // shared pointers, which would otherwise outlive the vhost.
  ~VHost();
  const std::string& name() const { return name_; }

  ExchangePtr find_exchange(const std::string& name);
  QueuePtr find_queue(const std::string& name);

  // declare_exchange() returns the existing exchange of that name, or creates it.
  // *created says which.
  ExchangePtr declare_exchange(const std::string& name, ExchangeType type,
                               const ExchangeOptions& opts, bool* created);
  void delete_exchange(const ExchangePtr& e);
  QueuePtr declare_queue(const std::string& name, const QueueOptions& opts, bool* created);
  // delete_queue() unbinds the queue everywhere, cancels its consumers and returns how
  // many messages it held. Auto-delete exchanges left without bindings go too.
  std::size_t delete_queue(const QueuePtr& q);
  // bind() binds d to source; false (nothing done) if either is no longer declared.
  // unbind() removes one binding; false if there was none. An auto-delete source left
  // without bindings is deleted.
  bool bind(const ExchangePtr& source, const Destination& d, const std::string& key,
            const weft::amqp::FieldTable& args);
  bool unbind(const ExchangePtr& source, const Destination& d, const std::string& key,
              const weft::amqp::FieldTable& args);
  // queues_owned_by() lists the exclusive queues of a connection.
  std::vector<QueuePtr> queues_owned_by(std::uint64_t connection_id);

  // route() returns the queues a message published to `e` reaches: each once, through
  // exchange-to-exchange bindings and the alternate exchange. The default exchange ("")
  // routes by queue name.
  void route(const ExchangePtr& e, const Message& m, std::vector<QueuePtr>* out);

 private:
  void route_into(const ExchangePtr& e, RoutingInput& in, std::vector<QueuePtr>* out,
                  std::vector<Exchange*>* seen);
  // forget_destination() removes every binding to d; the auto-delete exchanges that
  // this leaves without bindings are appended to *emptied. Under bind_mu_.
  void forget_destination(const Destination& d, std::vector<ExchangePtr>* emptied);
  bool declared(const Destination& d);

  const std::string name_;
  QueueStoreFactory& stores_;
  metrics::Registry& registry_;
  weft::RWMutex mu_;
  std::unordered_map<std::string, ExchangePtr> exchanges_;
  std::unordered_map<std::string, QueuePtr> queues_;
  weft::Mutex bind_mu_;
  // Destination::id() → the exchanges that bind it (a deleted exchange is taken out of
  // every entry, under bind_mu_).
  std::unordered_map<const void*, std::unordered_map<Exchange*, ExchangePtr>> sources_;
};

}  // namespace weftd
