// core/headers_exchange.h: the headers exchange -- a message reaches a destination when
// its headers match one of the binding's argument tables: x-match all (default) or
// any, and the all-with-x/any-with-x forms that also compare x- headers; a void
// binding value matches on the header's presence alone. The message's headers are
// decoded at most once per publish (RoutingInput). Locking: core/exchange.h.
#pragma once

#include <string>
#include <vector>

#include "core/exchange.h"

namespace weftd {

class HeadersExchange final : public Exchange {
 public:
  HeadersExchange(std::string name, ExchangeOptions opts)
      : Exchange(std::move(name), ExchangeType::headers, std::move(opts)) {}

  // matches() tells whether headers (nullptr: none) satisfy a binding's arguments.
  static bool matches(const weft::amqp::FieldTable& args, const weft::amqp::FieldTable* headers);

 private:
  void index_add(const Destination&, const Binding&) override {}
  void index_remove(const Destination&, const Binding&) override {}
  void index_clear() override {}
  void route_locked(RoutingInput& in, std::vector<Destination>* out) override;
};

}  // namespace weftd
