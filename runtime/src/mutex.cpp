// mutex.cpp: weft::Mutex's slow paths. See weft/mutex.h for the two modes.
//
// state_ bits: kLocked (held), kStarving (FIFO hand-off mode), kWaiters (the queue may
// be non-empty). Invariants:
//   - kWaiters is set only under waiters_.lock and only while kLocked is set, so an
//     unlock whose fast-path CAS (kLocked -> 0) succeeds cannot strand a waiter;
//   - in starving mode the lock is never free while waiters exist: unlock() keeps
//     kLocked and hands ownership to the head waiter (Waiter::handoff).
#include "weft/mutex.h"

#include "blockprof.h"
#include "leaf.h"
#include "proc.h"
#include "waiter.h"

namespace weft {

namespace {
constexpr std::int64_t kStarvationNs = 1'000'000;  // 1 ms, Go's threshold
constexpr int kSpinRounds = 4;
}  // namespace

void Mutex::lock_slow(std::source_location site) {
  detail::check_preempt();
  // Spin briefly: the holder is probably running on another P and about to unlock.
  if (procs() > 1) {
    for (int round = 0; round < kSpinRounds; round++) {
      for (int i = 0; i < 30; i++) detail::cpu_relax();
      std::uint32_t s = state_.load(std::memory_order_relaxed);
      if ((s & (kLocked | kStarving)) == 0 &&
          state_.compare_exchange_strong(s, s | kLocked, std::memory_order_acquire))
        return;
    }
  }
  detail::G* g = detail::getg();
  const std::int64_t t0 = detail::block_start();
  const std::int64_t m0 = detail::mutex_start();
  std::int64_t wait_start = 0;
  bool requeue = false;
  for (;;) {
    detail::Waiter w;
    w.g = g;
    detail::wl_lock(waiters_);
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    bool queued = false;
    for (;;) {
      if ((s & (kLocked | kStarving)) == 0) {
        if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire)) break;
        continue;
      }
      if ((s & kWaiters) ||
          state_.compare_exchange_weak(s, s | kWaiters, std::memory_order_relaxed)) {
        queued = true;
        break;
      }
    }
    if (!queued) {
      detail::wl_unlock(waiters_);
      break;  // acquired
    }
    if (!g) {  // a plain thread: spin politely
      detail::wl_unlock(waiters_);
      detail::leaf_sched_yield();
      continue;
    }
    if (wait_start == 0) wait_start = detail::nanotime();
    w.wait_start = wait_start;
    // A waiter that was woken and lost the race goes back to the front (Go's LIFO).
    if (requeue)
      detail::wl_push_front(waiters_, &w);
    else
      detail::wl_push_back(waiters_, &w);
    detail::wl_unlock(waiters_);
    detail::waiter_park(&w, WaitReason::mutex);
    if (w.handoff) break;  // unlock() gave us the lock
    requeue = true;
  }
  if (wait_start != 0) {
    detail::block_end(t0, WaitReason::mutex, site);
    detail::mutex_end(m0, site);
  }
}

void Mutex::unlock_slow() {
  detail::wl_lock(waiters_);
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  detail::Waiter* w = detail::wl_pop_front(waiters_);
  if (!w) {
    state_.store(0, std::memory_order_release);
    detail::wl_unlock(waiters_);
    return;
  }
  const bool more = !detail::wl_empty(waiters_);
  const bool starved = detail::nanotime() - w->wait_start > kStarvationNs;
  if ((s & kStarving) || starved) {
    // Hand off: the lock stays held, now by w. Stay in starving mode while the queue
    // has waiters and the one served had to wait long.
    w->handoff = true;
    std::uint32_t ns = kLocked;
    if (more) ns |= kWaiters | (starved ? kStarving : 0);
    state_.store(ns, std::memory_order_release);
  } else {
    // Normal mode: release, and let w compete with newcomers.
    state_.store(more ? kWaiters : 0, std::memory_order_release);
  }
  detail::wl_unlock(waiters_);
  detail::waiter_wake(w);
  detail::check_preempt();
}

}  // namespace weft
