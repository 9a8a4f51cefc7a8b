// blockprof.cpp: see blockprof.h. Sampling follows Go's runtime/mprof.go:
//   block:  rate r (ns): an event of delay d is kept if d >= r, else with chance d/r;
//   mutex:  fraction f: each contention event is kept with chance 1/f.
#include "blockprof.h"

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <tuple>

#include "proc.h"
#include "systemstack.h"

namespace weft {
namespace detail {

namespace {

std::atomic<std::int64_t> g_block_rate{0};
std::atomic<int> g_mutex_fraction{0};

struct Key {
  const char* file;
  std::uint32_t line;
  const char* function;
  WaitReason reason;
  bool operator<(const Key& o) const {
    return std::tie(file, line, function, reason) <
           std::tie(o.file, o.line, o.function, o.reason);
  }
};
struct Value {
  std::uint64_t count = 0;
  std::int64_t delay = 0;
};
struct Table {
  std::mutex mu;
  std::map<Key, Value> entries;
};
Table& block_table() {
  static Table* t = new Table;
  return *t;
}
Table& mutex_table() {
  static Table* t = new Table;
  return *t;
}

std::uint64_t cheaprand() {
  // xorshift on a thread-local seed: no library call on a fiber's stack.
  thread_local std::uint64_t x = 0;
  if (x == 0) x = static_cast<std::uint64_t>(nanotime()) | 1;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

void add(Table& t, const std::source_location& site, WaitReason r, std::int64_t delay) {
  systemstack([&] {
    std::lock_guard lock(t.mu);
    Value& v = t.entries[Key{site.file_name(), site.line(), site.function_name(), r}];
    v.count++;
    v.delay += delay;
  });
}

std::vector<BlockRecord> dump(Table& t) {
  std::vector<BlockRecord> out;
  std::lock_guard lock(t.mu);
  for (auto& [k, v] : t.entries)
    out.push_back(BlockRecord{k.file, k.line, k.function, k.reason, v.count, v.delay});
  return out;
}

}  // namespace

std::int64_t block_start() {
  return g_block_rate.load(std::memory_order_relaxed) > 0 ? nanotime() : 0;
}

void block_record(std::int64_t t0, WaitReason reason, const std::source_location& site) {
  std::int64_t rate = g_block_rate.load(std::memory_order_relaxed);
  if (rate <= 0) return;
  std::int64_t delay = nanotime() - t0;
  if (delay < 0) delay = 0;
  if (rate > 1 && delay < rate &&
      static_cast<std::int64_t>(cheaprand() % static_cast<std::uint64_t>(rate)) >= delay)
    return;
  add(block_table(), site, reason, delay);
}

std::int64_t mutex_start() {
  return g_mutex_fraction.load(std::memory_order_relaxed) > 0 ? nanotime() : 0;
}

void mutex_record(std::int64_t t0, const std::source_location& site) {
  int f = g_mutex_fraction.load(std::memory_order_relaxed);
  if (f <= 0) return;
  if (f > 1 && cheaprand() % static_cast<std::uint64_t>(f) != 0) return;
  add(mutex_table(), site, WaitReason::mutex, nanotime() - t0);
}

}  // namespace detail

void set_block_profile_rate(std::int64_t rate_ns) {
  detail::g_block_rate.store(rate_ns < 0 ? 0 : rate_ns, std::memory_order_relaxed);
}

int set_mutex_profile_fraction(int fraction) {
  if (fraction < 0) return detail::g_mutex_fraction.load();
  return detail::g_mutex_fraction.exchange(fraction);
}

std::vector<BlockRecord> block_profile() { return detail::dump(detail::block_table()); }
std::vector<BlockRecord> mutex_profile() { return detail::dump(detail::mutex_table()); }

}  // namespace weft
