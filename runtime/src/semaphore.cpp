// semaphore.cpp: weft::Semaphore. Permits and the FIFO are guarded by waiters_.lock;
// release() grants permits to waiters in order and stops at the first it cannot
// satisfy, so a large request is never overtaken.
#include "weft/semaphore.h"

#include <thread>

#include "blockprof.h"
#include "leaf.h"
#include "proc.h"
#include "waiter.h"

namespace weft {

void Semaphore::acquire(std::int64_t n, std::source_location site) {
  detail::wl_lock(waiters_);
  if (detail::wl_empty(waiters_) && permits_ >= n) {
    permits_ -= n;
    detail::wl_unlock(waiters_);
    return;
  }
  detail::Waiter w;
  w.g = detail::getg();
  w.n = n;
  detail::wl_push_back(waiters_, &w);
  detail::wl_unlock(waiters_);
  const std::int64_t t0 = detail::block_start();
  if (w.g) {
    detail::waiter_park(&w, WaitReason::semaphore);
  } else {
    while (w.state.load(std::memory_order_acquire) == detail::Waiter::kRunning)
      detail::leaf_sched_yield();
  }
  detail::block_end(t0, WaitReason::semaphore, site);
}

bool Semaphore::try_acquire(std::int64_t n) {
  detail::wl_lock(waiters_);
  const bool ok = detail::wl_empty(waiters_) && permits_ >= n;
  if (ok) permits_ -= n;
  detail::wl_unlock(waiters_);
  return ok;
}

void Semaphore::release(std::int64_t n) {
  detail::wl_lock(waiters_);
  permits_ += n;
  detail::Waiter* woken = nullptr;
  detail::Waiter** tail = &woken;
  while (waiters_.head && waiters_.head->n <= permits_) {
    detail::Waiter* w = detail::wl_pop_front(waiters_);
    permits_ -= w->n;
    *tail = w;
    tail = &w->next;
  }
  detail::wl_unlock(waiters_);
  while (woken) {
    detail::Waiter* next = woken->next;
    detail::waiter_wake(woken);
    woken = next;
  }
}

std::int64_t Semaphore::available() const {
  auto* self = const_cast<Semaphore*>(this);
  detail::wl_lock(self->waiters_);
  std::int64_t v = permits_;
  detail::wl_unlock(self->waiters_);
  return v;
}

}  // namespace weft
