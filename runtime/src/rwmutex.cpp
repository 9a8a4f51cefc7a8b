// rwmutex.cpp: weft::RWMutex. All state is guarded by waiters_.lock; a fiber that must
// wait queues a Waiter and parks after releasing it (waiter.h). Ownership is granted by
// the waker (readers_ incremented, or writer_ set) before it wakes the waiter, so a
// woken fiber never re-checks.
#include "weft/rwmutex.h"

#include <thread>

#include "blockprof.h"
#include "leaf.h"
#include "proc.h"
#include "waiter.h"

namespace weft {

namespace {

// Grant as much of the queue head as the state allows; returns the waiters to wake.
// REQUIRES: lock held.
detail::Waiter* grant(detail::WaitList& q, std::int32_t& readers, bool& writer,
                      std::int32_t& writers_waiting) {
  detail::Waiter* woken = nullptr;
  detail::Waiter** tail = &woken;
  while (q.head && !writer) {
    detail::Waiter* w = q.head;
    if (w->writer) {
      if (readers != 0) break;
      detail::wl_pop_front(q);
      writers_waiting--;
      writer = true;
    } else {
      detail::wl_pop_front(q);
      readers++;
    }
    *tail = w;
    tail = &w->next;
    w->next = nullptr;
  }
  return woken;
}

void wake_list(detail::Waiter* w) {
  while (w) {
    detail::Waiter* next = w->next;
    detail::waiter_wake(w);
    w = next;
  }
}

}  // namespace

void RWMutex::lock(std::source_location site) {
  detail::wl_lock(waiters_);
  if (!writer_ && readers_ == 0 && detail::wl_empty(waiters_)) {
    writer_ = true;
    detail::wl_unlock(waiters_);
    return;
  }
  detail::Waiter w;
  w.g = detail::getg();
  w.writer = true;
  writers_waiting_++;
  detail::wl_push_back(waiters_, &w);
  detail::wl_unlock(waiters_);
  const std::int64_t t0 = detail::block_start();
  if (w.g) {
    detail::waiter_park(&w, WaitReason::rwmutex_write);
  } else {
    while (w.state.load(std::memory_order_acquire) == detail::Waiter::kRunning)
      detail::leaf_sched_yield();
  }
  detail::block_end(t0, WaitReason::rwmutex_write, site);
}

bool RWMutex::try_lock() {
  detail::wl_lock(waiters_);
  const bool ok = !writer_ && readers_ == 0 && detail::wl_empty(waiters_);
  if (ok) writer_ = true;
  detail::wl_unlock(waiters_);
  return ok;
}

void RWMutex::unlock() {
  detail::wl_lock(waiters_);
  writer_ = false;
  detail::Waiter* woken = grant(waiters_, readers_, writer_, writers_waiting_);
  detail::wl_unlock(waiters_);
  wake_list(woken);
}

void RWMutex::lock_shared(std::source_location site) {
  detail::wl_lock(waiters_);
  if (!writer_ && writers_waiting_ == 0) {
    readers_++;
    detail::wl_unlock(waiters_);
    return;
  }
  detail::Waiter w;
  w.g = detail::getg();
  detail::wl_push_back(waiters_, &w);
  detail::wl_unlock(waiters_);
  const std::int64_t t0 = detail::block_start();
  if (w.g) {
    detail::waiter_park(&w, WaitReason::rwmutex_read);
  } else {
    while (w.state.load(std::memory_order_acquire) == detail::Waiter::kRunning)
      detail::leaf_sched_yield();
  }
  detail::block_end(t0, WaitReason::rwmutex_read, site);
}

bool RWMutex::try_lock_shared() {
  detail::wl_lock(waiters_);
  const bool ok = !writer_ && writers_waiting_ == 0;
  if (ok) readers_++;
  detail::wl_unlock(waiters_);
  return ok;
}

void RWMutex::unlock_shared() {
  detail::wl_lock(waiters_);
  readers_--;
  detail::Waiter* woken =
      readers_ == 0 ? grant(waiters_, readers_, writer_, writers_waiting_) : nullptr;
  detail::wl_unlock(waiters_);
  wake_list(woken);
}

}  // namespace weft
