// core/topic_exchange.cpp: see core/topic_exchange.h.
#include "core/topic_exchange.h"

#include <algorithm>

namespace weftd {

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
}  // namespace

TopicExchange::TopicExchange(std::string name, ExchangeOptions opts)
    : Exchange(std::move(name), ExchangeType::topic, std::move(opts)),
      root_(std::make_unique<Node>()) {}

TopicExchange::~TopicExchange() = default;

void TopicExchange::index_add(const Destination& d, const Binding& b) {
  Node* n = root_.get();
  for (std::string_view w : split_words(b.key)) {
    auto& child = n->children[std::string(w)];
    if (!child) child = std::make_unique<Node>();
    n = child.get();
  }
  n->dests.push_back(d);
}

void TopicExchange::index_remove(const Destination& d, const Binding& b) {
  Node* n = root_.get();
  for (std::string_view w : split_words(b.key)) {
    auto it = n->children.find(std::string(w));
    if (it == n->children.end()) return;
    n = it->second.get();
  }
  if (auto at = std::find(n->dests.begin(), n->dests.end(), d); at != n->dests.end())
    n->dests.erase(at);
}

void TopicExchange::index_clear() { root_ = std::make_unique<Node>(); }

void TopicExchange::route_locked(RoutingInput& in, std::vector<Destination>* out) {
  match(root_.get(), split_words(in.routing_key()), 0, out);
}

void TopicExchange::match(const Node* n, const std::vector<std::string_view>& words, std::size_t i,
                          std::vector<Destination>* out) const {
  if (auto it = n->children.find("#"); it != n->children.end())
    for (std::size_t j = i; j <= words.size(); j++)  // '#' takes zero or more words
      match(it->second.get(), words, j, out);
  if (i == words.size()) {
    out->insert(out->end(), n->dests.begin(), n->dests.end());
    return;
  }
  if (auto it = n->children.find(std::string(words[i])); it != n->children.end())
    match(it->second.get(), words, i + 1, out);
  if (words[i] != "*")
    if (auto it = n->children.find("*"); it != n->children.end())
      match(it->second.get(), words, i + 1, out);
}

}  // namespace weftd
