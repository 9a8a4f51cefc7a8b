// core/fanout_exchange.h: the fanout exchange -- every bound destination, whatever the
// routing key; it needs no index beyond the bindings themselves. Locking:
// core/exchange.h.
#pragma once

#include <string>
#include <vector>

#include "core/exchange.h"

namespace weftd {

class FanoutExchange final : public Exchange {
 public:
  FanoutExchange(std::string name, ExchangeOptions opts)
      : Exchange(std::move(name), ExchangeType::fanout, std::move(opts)) {}

 private:
  void index_add(const Destination&, const Binding&) override {}
  void index_remove(const Destination&, const Binding&) override {}
  void index_clear() override {}
  void route_locked(RoutingInput&, std::vector<Destination>* out) override {
    for (const auto& [id, bd] : bound_) out->push_back(bd.dest);
  }
};

}  // namespace weftd
