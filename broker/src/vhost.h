// vhost.h: a virtual host -- its exchanges and queues, and routing across them.
//
// The name maps are guarded by one weft::RWMutex, taken shared for lookups (every
// publish looks its exchange up) and exclusively only to declare or delete. Routing
// itself runs under the exchanges' own locks (exchange.h), so publishers to different
// exchanges and queues do not serialize on anything global.
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

#include "exchange.h"
#include "queue.h"
#include "weft/rwmutex.h"

namespace weftd {

class VHost {
 public:
  explicit VHost(std::string name);
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
  // queues_owned_by() lists the exclusive queues of a connection.
  std::vector<QueuePtr> queues_owned_by(std::uint64_t connection_id);

  // route() returns the queues a message published to `e` reaches: each once, through
  // exchange-to-exchange bindings and the alternate exchange. The default exchange ("")
  // routes by queue name.
  void route(const ExchangePtr& e, const Message& m, std::vector<QueuePtr>* out);

 private:
  void route_into(const ExchangePtr& e, const Message& m, std::vector<QueuePtr>* out,
                  std::vector<Exchange*>* seen);
  void forget_destination(const Destination& d);

  const std::string name_;
  weft::RWMutex mu_;
  std::unordered_map<std::string, ExchangePtr> exchanges_;
  std::unordered_map<std::string, QueuePtr> queues_;
};

}  // namespace weftd
