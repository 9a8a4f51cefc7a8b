// profagg.h (private): aggregating profile events by (stack, labels).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "labelset.h"
#include "weft/profile.h"

namespace weft::detail {

// StackAgg sums events per (stack, label set contents). It holds one reference on the
// label set of each key. Not thread safe; REQUIRES: on a system stack (allocates).
class StackAgg {
 public:
  StackAgg() = default;
  StackAgg(const StackAgg&) = delete;
  StackAgg& operator=(const StackAgg&) = delete;
  ~StackAgg() { clear(); }

  // add() counts an event; `labels` is borrowed (the aggregate takes its own reference
  // for a new key). `fiber` is kept from the first event of a key.
  void add(const std::uintptr_t* pcs, int n, LabelSet* labels, std::int64_t count,
           std::int64_t value, FiberId fiber = 0);
  std::vector<profile::Sample> samples() const;
  std::size_t size() const { return map_.size(); }
  void clear();

 private:
  struct Key {
    std::vector<std::uintptr_t> pcs;
    LabelSet* labels;
  };
  struct Less {
    bool operator()(const Key& a, const Key& b) const {
      if (a.pcs != b.pcs) return a.pcs < b.pcs;
      return labelset_less(a.labels, b.labels);
    }
  };
  struct Value {
    std::int64_t count = 0, value = 0;
    FiberId fiber = 0;
  };
  std::map<Key, Value, Less> map_;
};

}  // namespace weft::detail
