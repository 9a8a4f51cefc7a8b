// spinlock.h: the runtime's short-critical-section lock.
//
// Runtime critical sections are a few dozen instructions (queue links, heap slots), so
// a test-and-test-and-set lock beats a futex mutex. After a short spin it calls
// sched_yield(): on an oversubscribed machine the holder may have been descheduled.
// Never held across a fiber switch: a parked fiber's lock is released by the
// post-switch action (see proc.h, Post).
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "leaf.h"
#include "lock_rank.h"

namespace weft::detail {

inline void cpu_relax() { __builtin_ia32_pause(); }

// spin_acquire_contended() is spin_acquire() once the word was found held.
void spin_acquire_contended(std::atomic<std::uint32_t>& word);

// The uncontended case is inline and the loop is not: the loop's registers (a counter,
// sched_yield's address) cost every caller a prologue and an epilogue, on every channel
// operation.
inline void spin_acquire(std::atomic<std::uint32_t>& word) {
  if (word.load(std::memory_order_relaxed) == 0 && word.exchange(1, std::memory_order_acquire) == 0)
      [[likely]]
    return;
  spin_acquire_contended(word);
}
inline void spin_release(std::atomic<std::uint32_t>& word) {
  word.store(0, std::memory_order_release);
}

class SpinLock {
 public:
  explicit SpinLock(LockRank rank) : rank_(rank) {}
  void lock() {
    lock_rank_acquire(rank_);
    spin_acquire(word_);
  }
  void unlock() {
    spin_release(word_);
    lock_rank_release(rank_);
  }

 private:
  std::atomic<std::uint32_t> word_{0};
  LockRank rank_;
};

}  // namespace weft::detail
