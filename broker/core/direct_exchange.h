// core/direct_exchange.h: the direct exchange -- a hash map from routing key to every
// destination bound with exactly that key (a key bound to three queues reaches all
// three). Locking: core/exchange.h.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/exchange.h"

namespace weftd {

class DirectExchange final : public Exchange {
 public:
  DirectExchange(std::string name, ExchangeOptions opts)
      : Exchange(std::move(name), ExchangeType::direct, std::move(opts)) {}

 private:
  void index_add(const Destination& d, const Binding& b) override;
  void index_remove(const Destination& d, const Binding& b) override;
  void index_clear() override { by_key_.clear(); }
  void route_locked(RoutingInput& in, std::vector<Destination>* out) override;

  std::unordered_map<std::string, std::vector<Destination>> by_key_;
};

}  // namespace weftd
