// blockprof.cpp: see blockprof.h. Sampling follows Go's runtime/mprof.go:
//   block:  rate r (ns): an event of delay d is kept if d >= r, else with chance d/r;
//   mutex:  fraction f: each contention event is kept with chance 1/f.
// A kept event is recorded twice: per call site (weft::block_profile, mutex_profile) and
// per (stack, labels) of the blocked fiber (weft::profile::block, mutex). The stack is
// walked by frame pointers from the recorder's own frame, on the fiber's stack, before
// the switch to the system stack; the recorder's frame itself is skipped, so the
// innermost pc is in the runtime's blocking call (ChanCore::recv, Mutex::lock_slow...).
#include "blockprof.h"

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <tuple>

#include "labelset.h"
#include "proc.h"
#include "profagg.h"
#include "ranked_mutex.h"
#include "stackwalk.h"
#include "systemstack.h"
#include "weft/profile.h"

namespace weft {
namespace detail {

std::atomic<std::int64_t> g_block_rate{0};
std::atomic<int> g_mutex_fraction{0};

namespace {

struct Key {
  const char* file;
  std::uint32_t line;
  const char* function;
  WaitReason reason;
  bool operator<(const Key& o) const {
    return std::tie(file, line, function, reason) < std::tie(o.file, o.line, o.function, o.reason);
  }
};
struct Value {
  std::uint64_t count = 0;
  std::int64_t delay = 0;
};
struct Table {
  RankedMutex mu{LockRank::profile};
  std::map<Key, Value> entries;
  StackAgg stacks;  // by (stack, labels); value: delay
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

// add() records an event. `fp` is the frame address of the recorder (block_record or
// mutex_record) and `ret` its return address: the blocked fiber's stack starts there.
// Inlined into the recorders, so that their frame is live while it is walked.
inline __attribute__((always_inline)) void add(Table& t, const std::source_location& site,
                                               WaitReason r, std::int64_t delay, std::uintptr_t fp,
                                               std::uintptr_t ret) {
  G* g = getg();
  // Only this fiber changes its own labels: read without the lock (referenced below).
  LabelSet* labels = g ? g->labels.load(std::memory_order_relaxed) : nullptr;
  systemstack([&] {
    std::uintptr_t pcs[kMaxFrames];
    int n = g ? walk_current(g, fp, pcs, kMaxFrames) : 0;
    if (n == 0) pcs[n++] = ret;  // not on a fiber (no known stack bounds): the caller only
    std::lock_guard lock(t.mu);
    Value& v = t.entries[Key{site.file_name(), site.line(), site.function_name(), r}];
    v.count++;
    v.delay += delay;
    t.stacks.add(pcs, n, labels, 1, delay);
  });
}

std::vector<profile::Sample> dump_stacks(Table& t) {
  std::vector<profile::Sample> out;
  systemstack([&] {
    std::lock_guard lock(t.mu);
    out = t.stacks.samples();
  });
  return out;
}

std::vector<BlockRecord> dump(Table& t) {
  std::vector<BlockRecord> out;
  std::lock_guard lock(t.mu);
  for (auto& [k, v] : t.entries)
    out.push_back(BlockRecord{k.file, k.line, k.function, k.reason, v.count, v.delay});
  return out;
}

}  // namespace

void block_record(std::int64_t t0, WaitReason reason, const std::source_location& site) {
  std::int64_t rate = g_block_rate.load(std::memory_order_relaxed);
  if (rate <= 0) return;
  std::int64_t delay = nanotime() - t0;
  if (delay < 0) delay = 0;
  if (rate > 1 && delay < rate &&
      static_cast<std::int64_t>(cheaprand() % static_cast<std::uint64_t>(rate)) >= delay)
    return;
  add(block_table(), site, reason, delay,
      reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)),
      reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}

void mutex_record(std::int64_t t0, const std::source_location& site) {
  int f = g_mutex_fraction.load(std::memory_order_relaxed);
  if (f <= 0) return;
  if (f > 1 && cheaprand() % static_cast<std::uint64_t>(f) != 0) return;
  add(mutex_table(), site, WaitReason::mutex, nanotime() - t0,
      reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)),
      reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
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

namespace profile {

std::vector<Sample> block() { return detail::dump_stacks(detail::block_table()); }
std::vector<Sample> mutex() { return detail::dump_stacks(detail::mutex_table()); }
std::int64_t block_rate() { return detail::g_block_rate.load(std::memory_order_relaxed); }
int mutex_fraction() { return detail::g_mutex_fraction.load(std::memory_order_relaxed); }

}  // namespace profile

}  // namespace weft
