// spinlock.h: the runtime's short-critical-section lock.
//
// Runtime critical sections are a few dozen instructions (queue links, heap slots), so
// a test-and-test-and-set lock beats a futex mutex. After 64 spins it calls
// sched_yield() between tries: on an oversubscribed machine the holder may have been
// descheduled. Every runtime lock has a rank (lock_rank.h), checked where checks are on:
// a SpinLock carries its own; a bare spin word (a WaitList's, a G's ident_lock) is taken
// with spin_lock(word, rank). No spin lock is held across a fiber switch, but one: a
// channel's blocking send or receive parks holding its wait-list lock, and the
// post-switch step releases it once the fiber is off its stack (ParkKind::unlock,
// switch.h).
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
// spin_contended_count() is how many times spin_acquire_contended() was called, ever
// (for TEST_spin_race()).
std::uint64_t spin_contended_count();

// spin_acquire() and spin_release() take and release a spin word, unranked: the
// building block of spin_lock() and SpinLock, and of test harnesses.
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

// spin_lock() takes the runtime spin word `word`, of rank r; spin_unlock() releases it.
inline void spin_lock(std::atomic<std::uint32_t>& word, LockRank r) {
  lock_rank_acquire(r, &word);
  spin_acquire(word);
}
inline void spin_unlock(std::atomic<std::uint32_t>& word) {
  spin_release(word);
  lock_rank_release(&word);
}

class SpinLock {
 public:
  explicit SpinLock(LockRank rank) : rank_(rank) {}
  void lock() { spin_lock(word_, rank_); }
  void unlock() { spin_unlock(word_); }
  // held() tells whether the calling thread holds it (where checks are on; else true).
  bool held() const { return lock_rank_held(&word_); }

 private:
  std::atomic<std::uint32_t> word_{0};
  LockRank rank_;
};

}  // namespace weft::detail
