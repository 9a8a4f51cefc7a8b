// poll_desc.cpp: waiting for readiness, waking on readiness, deadlines and close.
// See poll_desc.h for the protocol.
#include "poll_desc.h"

#include "proc.h"
#include "spinlock.h"
#include "systemstack.h"
#include "timer.h"
#include "waiter.h"

namespace weft::net::detail {

using weft::detail::G;
using weft::detail::Waiter;

std::atomic<std::int64_t> pd_waiters{0};

// DeadlineTimer: one armed deadline. Owned by its PollDesc while armed; once its
// callback has started, by the callback (runtime/src/timer.h: a popped timer is never
// touched by the runtime again).
struct DeadlineTimer {
  weft::detail::Timer t;
  PollDesc* pd = nullptr;
  std::uint64_t seq = 0;
  bool read = false;
};

namespace {

std::atomic<std::uint32_t> free_lock{0};
PollDesc* free_list = nullptr;

void lock(PollDesc* pd) { weft::detail::spin_lock(pd->lock, weft::detail::LockRank::poll_desc); }
void unlock(PollDesc* pd) { weft::detail::spin_unlock(pd->lock); }

void push(G** list, G* g) {
  if (!g) return;
  g->schedlink = *list;
  *list = g;
}

void ready_all(G* list) {
  while (list) {
    G* g = list;
    list = g->schedlink;
    g->schedlink = nullptr;
    weft::detail::ready(g);
  }
}

// unblock() empties a slot and returns the fiber that was parked in it, if any. With
// `ready` the slot is left kReady (readiness reported); without, 0 (a deadline or a
// close: the woken fiber finds out why from the flags it re-checks).
G* unblock(std::atomic<std::uintptr_t>& slot, bool ready) {
  std::uintptr_t old = slot.load(std::memory_order_acquire);
  for (;;) {
    if (old == PollDesc::kReady) return nullptr;
    if (old == 0 && !ready) return nullptr;
    if (slot.compare_exchange_weak(old, ready ? PollDesc::kReady : 0, std::memory_order_seq_cst))
      break;
  }
  if (old == 0) return nullptr;
  G* g = nullptr;
  weft::detail::waiter_claim(reinterpret_cast<Waiter*>(old), Waiter::kWoken, &g);
  return g;
}

void deadline_fired(weft::detail::Timer* t, std::int64_t) {
  auto* dt = static_cast<DeadlineTimer*>(t->arg);
  PollDesc* pd = dt->pd;
  lock(pd);
  DeadlineTimer*& armed = dt->read ? pd->rt : pd->wt;
  const bool current = armed == dt && (dt->read ? pd->rseq : pd->wseq) == dt->seq;
  if (current) {
    armed = nullptr;
    (dt->read ? pd->rd : pd->wd).store(-1, std::memory_order_seq_cst);
  }
  const bool read = dt->read;
  unlock(pd);
  delete dt;
  if (current)
    if (G* g = unblock(read ? pd->rg : pd->wg, false)) weft::detail::ready(g);
}

// disarm() stops one direction's timer. REQUIRES: pd->lock held.
void disarm(PollDesc* pd, bool read) {
  DeadlineTimer*& t = read ? pd->rt : pd->wt;
  (read ? pd->rseq : pd->wseq)++;
  // If the timer already fired, its callback owns it: it will find the new sequence
  // number, do nothing and free it.
  if (t && weft::detail::timer_del(&t->t)) delete t;
  t = nullptr;
}

}  // namespace

PollDesc* pd_alloc(int fd) {
  PollDesc* pd = nullptr;
  weft::detail::spin_lock(free_lock, weft::detail::LockRank::poll_free);
  if (free_list) {
    pd = free_list;
    free_list = pd->next_free;
  }
  weft::detail::spin_unlock(free_lock);
  if (!pd) weft::detail::systemstack([&] { pd = new PollDesc; });
  pd->fd = fd;
  pd->next_free = nullptr;
  pd->rg.store(0, std::memory_order_relaxed);
  pd->wg.store(0, std::memory_order_relaxed);
  pd->rd.store(0, std::memory_order_relaxed);
  pd->wd.store(0, std::memory_order_relaxed);
  pd->read_end.store(false, std::memory_order_relaxed);
  pd->closing.store(false, std::memory_order_release);
  return pd;
}

void pd_free(PollDesc* pd) {
  lock(pd);
  disarm(pd, true);
  disarm(pd, false);
  unlock(pd);
  pd->fd = -1;
  weft::detail::spin_lock(free_lock, weft::detail::LockRank::poll_free);
  pd->next_free = free_list;
  free_list = pd;
  weft::detail::spin_unlock(free_lock);
}

WaitResult pd_check(PollDesc* pd, bool write) {
  if (pd->closing.load(std::memory_order_seq_cst)) return WaitResult::closing;
  if ((write ? pd->wd : pd->rd).load(std::memory_order_seq_cst) < 0) return WaitResult::timeout;
  return WaitResult::ready;
}

WaitResult pd_wait(PollDesc* pd, bool write) {
  std::atomic<std::uintptr_t>& slot = write ? pd->wg : pd->rg;
  for (;;) {
    if (WaitResult r = pd_check(pd, write); r != WaitResult::ready) return r;
    std::uintptr_t old = slot.load(std::memory_order_acquire);
    if (old == PollDesc::kReady) {
      if (slot.compare_exchange_strong(old, 0, std::memory_order_acq_rel)) return WaitResult::ready;
      continue;
    }
    if (old != 0) weft::detail::fatal("weft::net: two fibers wait on one socket direction");
    Waiter w;
    w.g = weft::detail::getg();
    const auto mine = reinterpret_cast<std::uintptr_t>(&w);
    if (!slot.compare_exchange_strong(old, mine, std::memory_order_seq_cst)) continue;
    pd_waiters.fetch_add(1, std::memory_order_seq_cst);
    // close() and deadline timers set their flag, then empty the slot. Having published
    // the Waiter, look at the flags again: one of the two sides sees the other's write.
    if (pd_check(pd, write) != WaitResult::ready) {
      std::uintptr_t expect = mine;
      if (slot.compare_exchange_strong(expect, 0, std::memory_order_seq_cst)) {
        pd_waiters.fetch_sub(1, std::memory_order_relaxed);
        continue;  // took it back: report the flag
      }
      // Someone took the Waiter and is waking it.
    }
    weft::detail::waiter_park(&w, WaitReason::io);
    pd_waiters.fetch_sub(1, std::memory_order_relaxed);
  }
}

void pd_ready(PollDesc* pd, bool read, bool write, G** list) {
  if (read) push(list, unblock(pd->rg, true));
  if (write) push(list, unblock(pd->wg, true));
}

void pd_set_deadline(PollDesc* pd, std::int64_t when_ns, bool read, bool write) {
  if (when_ns != 0 && when_ns <= weft::detail::nanotime()) when_ns = -1;
  weft::detail::systemstack([&] {
    lock(pd);
    for (int dir = 0; dir < 2; dir++) {
      const bool r = dir == 0;
      if (r ? !read : !write) continue;
      disarm(pd, r);
      (r ? pd->rd : pd->wd).store(when_ns, std::memory_order_seq_cst);
      if (when_ns > 0) {
        auto* dt = new DeadlineTimer;
        dt->pd = pd;
        dt->read = r;
        dt->seq = r ? pd->rseq : pd->wseq;
        dt->t.when = when_ns;
        dt->t.fire = deadline_fired;
        dt->t.arg = dt;
        (r ? pd->rt : pd->wt) = dt;
        weft::detail::timer_add(&dt->t);
      }
    }
    unlock(pd);
  });
  if (when_ns < 0) {
    G* list = nullptr;
    if (read) push(&list, unblock(pd->rg, false));
    if (write) push(&list, unblock(pd->wg, false));
    ready_all(list);
  }
}

void pd_evict(PollDesc* pd, G** list) {
  pd->closing.store(true, std::memory_order_seq_cst);
  push(list, unblock(pd->rg, false));
  push(list, unblock(pd->wg, false));
}

void pd_wake(G* list) { ready_all(list); }

}  // namespace weft::net::detail
