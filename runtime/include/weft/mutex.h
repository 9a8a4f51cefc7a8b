// weft/mutex.h: a mutual exclusion lock that parks fibers, not threads.
//
// Like Go's sync.Mutex it has two modes. Normal mode: a woken waiter competes with
// fibers that just arrived (which usually win: they are already on a CPU), which keeps
// throughput high. Starvation mode: once a waiter has waited more than 1 ms, unlock()
// hands the lock straight to the first waiter in FIFO order and newcomers queue behind,
// so no waiter waits forever. The lock leaves starvation mode when its queue drains or
// the waiter it served had waited less than 1 ms.
//
//   weft::Mutex mu;
//   { std::lock_guard lock(mu); counter++; }
//
// Contended acquisitions are recorded (delay and site) for the block and mutex
// profiles (weft/introspect.h). Not recursive; a Mutex may be unlocked by a fiber
// other than the one that locked it, as in Go.
#pragma once

#include <atomic>
#include <cstdint>
#include <source_location>

#include "weft/detail/wait_list.h"

namespace weft {

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // lock() acquires the mutex, spinning briefly and then parking the fiber.
  void lock(std::source_location site = std::source_location::current()) {
    std::uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire))
      lock_slow(site);
  }
  // try_lock() acquires the mutex if it is free (and not promised to a starving waiter).
  bool try_lock() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    return (s & (kLocked | kStarving)) == 0 &&
           state_.compare_exchange_strong(s, s | kLocked, std::memory_order_acquire);
  }
  // unlock() releases the mutex, waking or handing off to a waiter if there is one.
  // REQUIRES: the mutex is locked.
  void unlock() {
    std::uint32_t expected = kLocked;
    if (!state_.compare_exchange_strong(expected, 0, std::memory_order_release)) unlock_slow();
  }

 private:
  friend class ConditionVariable;
  static constexpr std::uint32_t kLocked = 1;    // held
  static constexpr std::uint32_t kStarving = 2;  // FIFO hand-off mode
  static constexpr std::uint32_t kWaiters = 4;   // waiters_ may be non-empty

  void lock_slow(std::source_location site);
  void unlock_slow();

  std::atomic<std::uint32_t> state_{0};
  detail::WaitList waiters_;
};

}  // namespace weft
