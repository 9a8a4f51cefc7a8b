// spinlock.cpp: the contended half of spin_acquire() (spinlock.h).
#include "spinlock.h"

namespace weft::detail {

namespace {
// Calls of the contended path, for spin_contended_count() (TEST_spin_race()): one
// relaxed add on a path that is about to spin anyway.
std::atomic<std::uint64_t> g_contended{0};
}  // namespace

void spin_acquire_contended(std::atomic<std::uint32_t>& word) {
  g_contended.fetch_add(1, std::memory_order_relaxed);
  for (int spins = 0;; spins++) {
    if (spins < 64)
      cpu_relax();
    else
      leaf_sched_yield();  // leaf.h: safe on a fiber's first segment
    if (word.load(std::memory_order_relaxed) == 0 &&
        word.exchange(1, std::memory_order_acquire) == 0)
      return;
  }
}

std::uint64_t spin_contended_count() { return g_contended.load(std::memory_order_relaxed); }

}  // namespace weft::detail
