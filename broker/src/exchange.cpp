// exchange.cpp: see exchange.h.
#include "exchange.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

namespace weftd {

using weft::amqp::FieldTable;
using weft::amqp::FieldValue;

struct Exchange::TopicNode {
  std::unordered_map<std::string, std::unique_ptr<TopicNode>> children;  // incl. "*", "#"
  std::vector<Destination> dests;
};

namespace {
std::vector<std::string_view> split_words(std::string_view key) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = key.find('.', start);
    words.push_back(key.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return words;
}

void erase_one(std::vector<Destination>& v, const Destination& d) {
  auto it = std::find(v.begin(), v.end(), d);
  if (it != v.end()) v.erase(it);
}
}  // namespace

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

Exchange::Exchange(std::string name, ExchangeType type, ExchangeOptions opts)
    : name_(std::move(name)), type_(type), opts_(std::move(opts)),
      topic_(std::make_unique<TopicNode>()) {}

Exchange::~Exchange() = default;

std::string Exchange::alternate_exchange() const {
  if (const FieldValue* v = opts_.arguments.find("alternate-exchange"))
    if (const auto* s = v->get<std::string>()) return *s;
  return "";
}

void Exchange::index_add(const Destination& d, const Binding& b) {
  switch (type_) {
    case ExchangeType::direct:
      direct_[b.key].push_back(d);
      break;
    case ExchangeType::topic: {
      TopicNode* n = topic_.get();
      for (std::string_view w : split_words(b.key)) {
        auto& child = n->children[std::string(w)];
        if (!child) child = std::make_unique<TopicNode>();
        n = child.get();
      }
      n->dests.push_back(d);
      break;
    }
    default:
      break;  // fanout and headers scan bound_
  }
}

void Exchange::index_remove(const Destination& d, const Binding& b) {
  switch (type_) {
    case ExchangeType::direct: {
      auto it = direct_.find(b.key);
      if (it == direct_.end()) break;
      erase_one(it->second, d);
      if (it->second.empty()) direct_.erase(it);
      break;
    }
    case ExchangeType::topic: {
      TopicNode* n = topic_.get();
      for (std::string_view w : split_words(b.key)) {
        auto it = n->children.find(std::string(w));
        if (it == n->children.end()) return;
        n = it->second.get();
      }
      erase_one(n->dests, d);  // empty nodes stay: cheap, and re-binding reuses them
      break;
    }
    default:
      break;
  }
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
  direct_.clear();
  topic_ = std::make_unique<TopicNode>();
  nbindings_ = 0;
  return dests;
}

std::size_t Exchange::binding_count() {
  std::shared_lock lock(mu_);
  return nbindings_;
}

void Exchange::topic_match(TopicNode* n, const std::vector<std::string_view>& words, std::size_t i,
                           std::vector<Destination>* out) {
  if (auto it = n->children.find("#"); it != n->children.end())
    for (std::size_t j = i; j <= words.size(); j++)  // '#' takes zero or more words
      topic_match(it->second.get(), words, j, out);
  if (i == words.size()) {
    out->insert(out->end(), n->dests.begin(), n->dests.end());
    return;
  }
  if (auto it = n->children.find(std::string(words[i])); it != n->children.end())
    topic_match(it->second.get(), words, i + 1, out);
  if (words[i] != "*")
    if (auto it = n->children.find("*"); it != n->children.end())
      topic_match(it->second.get(), words, i + 1, out);
}

bool Exchange::headers_match(const FieldTable& args, const FieldTable* headers) {
  std::string mode = "all";
  if (const FieldValue* m = args.find("x-match"))
    if (const auto* s = m->get<std::string>()) mode = *s;
  const bool any = mode == "any" || mode == "any-with-x";
  const bool with_x = mode == "all-with-x" || mode == "any-with-x";
  for (const auto& [k, v] : args) {
    if (k == "x-match" || (!with_x && k.rfind("x-", 0) == 0)) continue;
    const FieldValue* h = headers ? headers->find(k) : nullptr;
    // A void binding value matches on presence alone.
    bool ok = h && (v.get<weft::amqp::Void>() ? true : *h == v);
    if (any && ok) return true;
    if (!any && !ok) return false;
  }
  return !any;  // all: every one matched (none to match: all do); any: none matched
}

const FieldTable* RoutingInput::headers() {
  if (!decoded_ && (m_.property_flags() & weft::amqp::BasicProperties::kFlagHeaders))
    headers_ = std::move(m_.properties().headers);
  decoded_ = true;
  return headers_ ? &*headers_ : nullptr;
}

void Exchange::route(RoutingInput& in, std::vector<Destination>* out) {
  std::shared_lock lock(mu_);
  switch (type_) {
    case ExchangeType::direct:
      if (auto it = direct_.find(in.routing_key()); it != direct_.end())
        out->insert(out->end(), it->second.begin(), it->second.end());
      break;
    case ExchangeType::fanout:
      for (const auto& [id, bd] : bound_) out->push_back(bd.dest);
      break;
    case ExchangeType::topic:
      topic_match(topic_.get(), split_words(in.routing_key()), 0, out);
      break;
    case ExchangeType::headers: {
      const FieldTable* headers = in.headers();
      for (const auto& [id, bd] : bound_)
        for (const Binding& b : bd.bindings)
          if (headers_match(b.args, headers)) {
            out->push_back(bd.dest);
            break;  // once per destination
          }
      break;
    }
  }
}

}  // namespace weftd
