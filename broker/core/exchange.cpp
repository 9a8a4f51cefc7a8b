// core/exchange.cpp: see core/exchange.h. The bindings every exchange type shares.
#include "core/exchange.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "core/direct_exchange.h"
#include "core/fanout_exchange.h"
#include "core/headers_exchange.h"
#include "core/topic_exchange.h"

namespace weftd {

using weft::amqp::FieldTable;
using weft::amqp::FieldValue;

bool parse_exchange_type(std::string_view s, ExchangeType* out) {
  if (s == "direct") return *out = ExchangeType::direct, true;
  if (s == "fanout") return *out = ExchangeType::fanout, true;
  if (s == "topic") return *out = ExchangeType::topic, true;
  if (s == "headers") return *out = ExchangeType::headers, true;
  return false;
}

const char* to_string(ExchangeType t) {
  switch (t) {
    case ExchangeType::direct:
      return "direct";
    case ExchangeType::fanout:
      return "fanout";
    case ExchangeType::topic:
      return "topic";
    case ExchangeType::headers:
      return "headers";
  }
  return "?";
}

ExchangePtr make_exchange(std::string name, ExchangeType type, ExchangeOptions opts) {
  switch (type) {
    case ExchangeType::direct:
      return std::make_shared<DirectExchange>(std::move(name), std::move(opts));
    case ExchangeType::fanout:
      return std::make_shared<FanoutExchange>(std::move(name), std::move(opts));
    case ExchangeType::topic:
      return std::make_shared<TopicExchange>(std::move(name), std::move(opts));
    case ExchangeType::headers:
      return std::make_shared<HeadersExchange>(std::move(name), std::move(opts));
  }
  return nullptr;
}

Exchange::Exchange(std::string name, ExchangeType type, ExchangeOptions opts)
    : name_(std::move(name)), type_(type), opts_(std::move(opts)) {}

Exchange::~Exchange() = default;

std::string alternate_exchange_of(const FieldTable& arguments) {
  if (const FieldValue* v = arguments.find("alternate-exchange"))
    if (const auto* s = v->get<std::string>()) return *s;
  return "";
}

void Exchange::bind(const Destination& d, const std::string& key, const FieldTable& args) {
  std::lock_guard lock(mu_);
  Bound& bd = bound_[d.id()];
  bd.dest = d;
  for (const Binding& b : bd.bindings)
    if (b.key == key && b.args == args) return;
  bd.bindings.push_back(Binding{key, args});
  nbindings_++;
  index_add(d, bd.bindings.back());
}

bool Exchange::unbind(const Destination& d, const std::string& key, const FieldTable& args) {
  std::lock_guard lock(mu_);
  auto it = bound_.find(d.id());
  if (it == bound_.end()) return false;
  std::vector<Binding>& list = it->second.bindings;
  for (auto b = list.begin(); b != list.end(); ++b)
    if (b->key == key && b->args == args) {
      index_remove(d, *b);
      list.erase(b);
      nbindings_--;
      if (list.empty()) bound_.erase(it);
      return true;
    }
  return false;
}

bool Exchange::unbind_destination(const Destination& d) {
  std::lock_guard lock(mu_);
  auto it = bound_.find(d.id());
  if (it == bound_.end()) return false;
  for (const Binding& b : it->second.bindings) index_remove(d, b);
  nbindings_ -= it->second.bindings.size();
  bound_.erase(it);
  return nbindings_ == 0;  // it had d's bindings, and now has none
}

std::vector<Destination> Exchange::clear() {
  std::lock_guard lock(mu_);
  std::vector<Destination> dests;
  dests.reserve(bound_.size());
  for (auto& [id, bd] : bound_) dests.push_back(std::move(bd.dest));
  bound_.clear();
  index_clear();
  nbindings_ = 0;
  return dests;
}

std::size_t Exchange::binding_count() {
  std::shared_lock lock(mu_);
  return nbindings_;
}

void Exchange::route(RoutingInput& in, std::vector<Destination>* out) {
  std::shared_lock lock(mu_);
  route_locked(in, out);
}

const FieldTable* RoutingInput::headers() {
  if (!decoded_ && (m_.property_flags() & weft::amqp::BasicProperties::kFlagHeaders))
    headers_ = std::move(m_.properties().headers);
  decoded_ = true;
  return headers_ ? &*headers_ : nullptr;
}

}  // namespace weftd
