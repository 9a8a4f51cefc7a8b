// spinlock.cpp: the contended half of spin_acquire() (spinlock.h).
#include "spinlock.h"

namespace weft::detail {

void spin_acquire_contended(std::atomic<std::uint32_t>& word) {
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

}  // namespace weft::detail
