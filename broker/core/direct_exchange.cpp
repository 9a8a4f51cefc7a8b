// core/direct_exchange.cpp: see core/direct_exchange.h.
#include "core/direct_exchange.h"

#include <algorithm>

namespace weftd {

void DirectExchange::index_add(const Destination& d, const Binding& b) {
  by_key_[b.key].push_back(d);
}

void DirectExchange::index_remove(const Destination& d, const Binding& b) {
  auto it = by_key_.find(b.key);
  if (it == by_key_.end()) return;
  auto& v = it->second;
  if (auto at = std::find(v.begin(), v.end(), d); at != v.end()) v.erase(at);
  if (v.empty()) by_key_.erase(it);
}

void DirectExchange::route_locked(RoutingInput& in, std::vector<Destination>* out) {
  if (auto it = by_key_.find(in.routing_key()); it != by_key_.end())
    out->insert(out->end(), it->second.begin(), it->second.end());
}

}  // namespace weftd
