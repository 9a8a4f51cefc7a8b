// waitgroup.cpp: weft::WaitGroup. The counter is an atomic; waiters queue under the
// list lock and re-check the counter there, and the add() that brings the counter to
// zero takes the same lock to release them, so no waiter can miss the zero.
#include "weft/waitgroup.h"

#include <atomic>
#include <stdexcept>
#include <thread>

#include "blockprof.h"
#include "leaf.h"
#include "proc.h"
#include "waiter.h"

namespace weft {

namespace detail {
struct WaitGroupState {
  std::atomic<std::int64_t> count{0};
  WaitList waiters;
};
}  // namespace detail

WaitGroup::WaitGroup() : s_(std::make_shared<detail::WaitGroupState>()) {}

namespace {
// Out of line: a throw calls into libstdc++, which would give add() itself a
// non-split prologue rewrite (leaf.h) on every call.
[[noreturn]] __attribute__((noinline, cold)) void negative_counter() {
  throw std::logic_error("weft::WaitGroup: negative counter");
}
}  // namespace

void WaitGroup::add(std::int64_t delta) const {
  const std::int64_t v = s_->count.fetch_add(delta, std::memory_order_acq_rel) + delta;
  if (v < 0) negative_counter();
  if (v > 0 || delta == 0) return;
  detail::wl_lock(s_->waiters);
  detail::Waiter* w = s_->waiters.head;
  s_->waiters.head = s_->waiters.tail = nullptr;
  detail::wl_unlock(s_->waiters);
  while (w) {
    detail::Waiter* next = w->next;
    w->linked = false;
    detail::waiter_wake(w);
    w = next;
  }
}

void WaitGroup::wait(std::source_location site) const {
  if (s_->count.load(std::memory_order_acquire) == 0) return;
  detail::Waiter w;
  w.g = detail::getg();
  detail::wl_lock(s_->waiters);
  if (s_->count.load(std::memory_order_acquire) == 0) {
    detail::wl_unlock(s_->waiters);
    return;
  }
  detail::wl_push_back(s_->waiters, &w);
  detail::wl_unlock(s_->waiters);
  const std::int64_t t0 = detail::block_start();
  if (w.g) {
    detail::waiter_park(&w, WaitReason::waitgroup);
  } else {
    while (w.state.load(std::memory_order_acquire) == detail::Waiter::kRunning)
      detail::leaf_sched_yield();
  }
  detail::block_end(t0, WaitReason::waitgroup, site);
}

std::int64_t WaitGroup::count() const { return s_->count.load(std::memory_order_acquire); }

}  // namespace weft
