// core/topic_exchange.h: the topic exchange -- binding keys are dot-separated words
// where `*` stands for exactly one word and `#` for zero or more. The bindings are kept
// in a trie over the words, with `*` and `#` as children like any other word, walked
// once per message (no regular expressions): routing costs O(the nodes the key can
// reach), not O(bindings). Empty nodes stay after an unbind (cheap, and re-binding
// reuses them). Locking: core/exchange.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/exchange.h"

namespace weftd {

class TopicExchange final : public Exchange {
 public:
  TopicExchange(std::string name, ExchangeOptions opts);
  ~TopicExchange() override;

 private:
  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>> children;  // incl. "*", "#"
    std::vector<Destination> dests;
  };
  void index_add(const Destination& d, const Binding& b) override;
  void index_remove(const Destination& d, const Binding& b) override;
  void index_clear() override;
  void route_locked(RoutingInput& in, std::vector<Destination>* out) override;
  // match() appends the destinations of every node that words[i..] reach from n.
  void match(const Node* n, const std::vector<std::string_view>& words, std::size_t i,
             std::vector<Destination>* out) const;

  std::unique_ptr<Node> root_;
};

}  // namespace weftd
