// core/exchange.h: the exchange interface -- bindings and routing -- that every
// exchange type implements (RabbitMQ's rabbit_exchange_type behaviour).
//
// Each exchange keeps its bindings under its own weft::RWMutex, indexed for its type, so
// routing costs O(bindings matched), never O(all bindings), and publishes through
// different exchanges share no lock. The base class keeps the bindings themselves (per
// destination, for bind's duplicate check and a deleted destination's unbinding); each
// type, in its own file, keeps the index it routes by and implements route_locked():
//   direct   core/direct_exchange.h   hash map routing key → destinations;
//   fanout   core/fanout_exchange.h   every bound destination;
//   topic    core/topic_exchange.h    a trie over the dot-separated words;
//   headers  core/headers_exchange.h  x-match over the bindings' argument tables.
// make_exchange() builds the right one. The index hooks run with the lock held
// exclusively, route_locked() with it shared.
// A destination is a queue or another exchange (exchange-to-exchange bindings);
// VHost::route() follows exchange destinations, once each, and the alternate exchange.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/message.h"
#include "core/queue.h"
#include "weft/amqp/types.h"
#include "weft/rwmutex.h"

namespace weftd {

class Exchange;
using ExchangePtr = std::shared_ptr<Exchange>;

enum class ExchangeType { direct, fanout, topic, headers };
bool parse_exchange_type(std::string_view s, ExchangeType* out);
const char* to_string(ExchangeType t);

struct Destination {
  QueuePtr queue;  // exactly one of the two is set
  ExchangePtr exchange;
  bool operator==(const Destination& o) const { return queue == o.queue && exchange == o.exchange; }
  // id(): the queue or exchange itself, as a key.
  const void* id() const {
    return queue ? static_cast<const void*>(queue.get()) : static_cast<const void*>(exchange.get());
  }
};

// RoutingInput: what routing reads of a message -- its routing key, and its headers,
// decoded from the property bytes only when a headers exchange asks, and then once per
// publish however many headers exchanges the message passes through.
class RoutingInput {
 public:
  explicit RoutingInput(const Message& m) : m_(m) {}
  const std::string& routing_key() const { return m_.routing_key; }
  const weft::amqp::FieldTable* headers();  // nullptr: the message has none

 private:
  const Message& m_;
  bool decoded_ = false;
  std::optional<weft::amqp::FieldTable> headers_;
};

struct ExchangeOptions {
  bool durable = false, auto_delete = false, internal = false;
  weft::amqp::FieldTable arguments;
};

// alternate_exchange_of(): the "alternate-exchange" argument of an exchange's
// arguments, or "".
std::string alternate_exchange_of(const weft::amqp::FieldTable& arguments);

class Exchange {
 public:
  Exchange(std::string name, ExchangeType type, ExchangeOptions opts);
  virtual ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const std::string& name() const { return name_; }
  ExchangeType type() const { return type_; }
  const ExchangeOptions& options() const { return opts_; }
  // alternate_exchange(): the "alternate-exchange" argument, or "".
  std::string alternate_exchange() const { return alternate_exchange_of(opts_.arguments); }

  // bind() adds a binding; binding twice is a no-op (as in RabbitMQ).
  void bind(const Destination& d, const std::string& key, const weft::amqp::FieldTable& args);
  // unbind() removes a binding; true if there was one.
  bool unbind(const Destination& d, const std::string& key, const weft::amqp::FieldTable& args);
  // unbind_destination() removes every binding to d (a deleted queue or exchange).
  // Returns true if the exchange had bindings and now has none (auto-delete).
  bool unbind_destination(const Destination& d);
  // clear() removes every binding (the exchange is being deleted) and returns the
  // destinations it bound.
  std::vector<Destination> clear();
  std::size_t binding_count();

  // route() appends this exchange's matching destinations (duplicates possible).
  void route(RoutingInput& in, std::vector<Destination>* out);

 protected:
  struct Binding {
    std::string key;
    weft::amqp::FieldTable args;
  };
  // A destination's bindings here: a queue or exchange is bound to one exchange a few
  // times at most, so binding (with its duplicate check), unbinding and forgetting a
  // deleted destination cost O(that destination's bindings), not O(the exchange's).
  struct Bound {
    Destination dest;
    std::vector<Binding> bindings;
  };
  // The type's index. REQUIRES: mu_ held exclusively.
  virtual void index_add(const Destination& d, const Binding& b) = 0;
  virtual void index_remove(const Destination& d, const Binding& b) = 0;
  virtual void index_clear() = 0;
  // route_locked() appends the destinations `in` matches. REQUIRES: mu_ held (shared).
  virtual void route_locked(RoutingInput& in, std::vector<Destination>* out) = 0;

  // Every binding, by Destination::id(). Guarded by mu_.
  std::unordered_map<const void*, Bound> bound_;

 private:
  const std::string name_;
  const ExchangeType type_;
  const ExchangeOptions opts_;
  weft::RWMutex mu_;
  std::size_t nbindings_ = 0;
};

// make_exchange() creates an exchange of the given type.
ExchangePtr make_exchange(std::string name, ExchangeType type, ExchangeOptions opts);

}  // namespace weftd
