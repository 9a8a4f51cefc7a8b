// condition_variable.cpp: weft::ConditionVariable.
//
// wait() queues its Waiter under waiters_.lock *before* it releases the user's mutex, so
// a notify that follows the unlock finds it; the park/wake handshake (waiter.h) covers
// the window between the unlock and the park. A timed wait races a timer against
// notify on Waiter::state; the loser is undone: a timed-out waiter unlinks itself, and
// a notified one disarms the timer -- or, if the timer already fired, waits for its
// callback to finish before the Waiter (on this stack) goes away.
#include "weft/condition_variable.h"

#include <new>
#include <thread>

#include "blockprof.h"
#include "leaf.h"
#include "proc.h"
#include "waiter.h"

namespace weft {

namespace {

struct TimedWait {
  detail::Timer timer;
  detail::Waiter* w;
};

void on_timeout(detail::Timer* t, std::int64_t) {
  auto* tw = static_cast<TimedWait*>(t->arg);
  detail::Waiter* w = tw->w;
  detail::waiter_wake(w, detail::Waiter::kTimedOut);
  w->timer_done.store(true, std::memory_order_release);  // last touch
}

// unlock_user() and relock() release and re-acquire the user's mutex without
// std::unique_lock's members, whose error paths throw through libstdc++ (a
// non-split-stack call that would cost every waiter a 1 MiB segment, leaf.h).
Mutex* unlock_user(std::unique_lock<Mutex>& lock) {
  Mutex* mu = lock.release();
  mu->unlock();
  return mu;
}

void relock(std::unique_lock<Mutex>& lock, Mutex* mu, const std::source_location& site) {
  mu->lock(site);
  // `lock` was released (no mutex, not owning): re-create it owning mu.
  new (&lock) std::unique_lock<Mutex>(*mu, std::adopt_lock);
}

}  // namespace

void ConditionVariable::wait(std::unique_lock<Mutex>& lock, std::source_location site) {
  detail::Waiter w;
  w.g = detail::getg();
  detail::wl_lock(waiters_);
  detail::wl_push_back(waiters_, &w);
  detail::wl_unlock(waiters_);
  Mutex* mu = unlock_user(lock);
  const std::int64_t t0 = detail::block_start();
  if (w.g) {
    detail::waiter_park(&w, WaitReason::cond);
  } else {
    while (w.state.load(std::memory_order_acquire) == detail::Waiter::kRunning)
      detail::leaf_sched_yield();
  }
  detail::block_end(t0, WaitReason::cond, site);
  relock(lock, mu, site);
}

CvStatus ConditionVariable::wait_until(std::unique_lock<Mutex>& lock, Clock::time_point deadline,
                                       std::source_location site) {
  const std::int64_t delay = std::chrono::duration_cast<Duration>(deadline - Clock::now()).count();
  if (delay <= 0) {
    Mutex* mu = unlock_user(lock);
    detail::check_preempt();
    relock(lock, mu, site);
    return CvStatus::timeout;
  }
  detail::Waiter w;
  w.g = detail::getg();
  TimedWait tw;
  tw.w = &w;
  tw.timer.when = detail::nanotime() + delay;
  tw.timer.fire = on_timeout;
  tw.timer.arg = &tw;
  w.timer_done.store(false, std::memory_order_relaxed);
  detail::wl_lock(waiters_);
  detail::wl_push_back(waiters_, &w);
  detail::wl_unlock(waiters_);
  Mutex* mu = unlock_user(lock);
  detail::timer_add(&tw.timer);
  const std::int64_t t0 = detail::block_start();
  std::uint32_t how;
  if (w.g) {
    how = detail::waiter_park(&w, WaitReason::cond);
  } else {
    while ((how = w.state.load(std::memory_order_acquire)) == detail::Waiter::kRunning)
      detail::leaf_sched_yield();
  }
  detail::block_end(t0, WaitReason::cond, site);
  if (how == detail::Waiter::kTimedOut) {
    detail::wl_lock(waiters_);
    if (w.linked) detail::wl_remove(waiters_, &w);
    detail::wl_unlock(waiters_);
  }
  if (detail::timer_del(&tw.timer)) {
    w.timer_done.store(true, std::memory_order_relaxed);
  }
  while (!w.timer_done.load(std::memory_order_acquire)) detail::cpu_relax();
  relock(lock, mu, site);
  return how == detail::Waiter::kTimedOut ? CvStatus::timeout : CvStatus::no_timeout;
}

// Waiters are claimed under the list lock: a timed-out waiter takes the same lock
// before it returns, so it cannot leave (and its Waiter die) while a notifier holds it.
void ConditionVariable::notify_one() {
  detail::G* g = nullptr;
  detail::wl_lock(waiters_);
  while (detail::Waiter* w = detail::wl_pop_front(waiters_)) {
    // A waiter whose timer already won is skipped: the notification goes to the next.
    if (detail::waiter_claim(w, detail::Waiter::kWoken, &g)) break;
  }
  detail::wl_unlock(waiters_);
  if (g) detail::ready(g);
}

void ConditionVariable::notify_all() {
  detail::G* batch[64];
  for (;;) {
    int n = 0;
    detail::wl_lock(waiters_);
    while (n < 64) {
      detail::Waiter* w = detail::wl_pop_front(waiters_);
      if (!w) break;
      detail::G* g = nullptr;
      if (detail::waiter_claim(w, detail::Waiter::kWoken, &g) && g) batch[n++] = g;
    }
    const bool more = !detail::wl_empty(waiters_);
    detail::wl_unlock(waiters_);
    for (int i = 0; i < n; i++) detail::ready(batch[i]);
    if (!more) return;
  }
}

}  // namespace weft
