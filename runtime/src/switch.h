// switch.h: a fiber switching away and being readied -- the inline half of park() and
// ready() (proc.cpp).
//
// Every blocking hand-off runs this code twice per message: a channel's receiver readies
// the sender it found waiting, and a fiber parks and the P switches straight to the one
// in its runnext. It is inline so that a primitive's blocking path (chan.cpp) parks
// without a call layer in between: after a switch each return up the resumed fiber's
// stack mispredicts (the return-address predictor holds the other fiber's calls), and a
// frame's prologue and epilogue cost as much again (measured: docs/benchmarks.md,
// "eighth session"). Everything rare stays out of line in proc.cpp: the ring's pop, the
// global queue, a preemption, a cancelled park, a full runnext.
//
// The entry points, each for one use:
//   park()            (proc.h, out of line) a wait that commits in a callback run after
//                     the switch: the Waiter handshake (waiter.h), a sleep's timer.
//   park_releasing()  a channel's plain send or receive, which parks holding its lock.
//   ready()           (proc.h, out of line) any waker.
//   ready_inline()    a channel's blocking path: ready() without the call.
//
// Invariants are proc.h's ("Switching"): whatever must happen after the old fiber is off
// its stack travels in M::post and is done by whoever is resumed (post_switch()). No
// runtime lock is held across a switch but a channel's, which post_switch() releases
// (ParkKind::unlock); checked, with the G status transitions and run-queue ownership,
// where checks are on (check.h, lock_rank.h).
#pragma once

#include <atomic>
#include <cstdint>

#include "asym_fence.h"
#include "check.h"
#include "g.h"
#include "proc.h"
#include "spinlock.h"
#include "stack.h"
#include "systemstack.h"
#include "trace.h"

namespace weft::detail {

// Out of line, in proc.cpp.
void runq_put_slow(P* p, G* g, bool next);
G* runq_get_ring(P* p);
G* globrunq_get(P* p, std::int64_t max);
void post_switch_rest(M* m, PostKind kind, G* prev);
void end_inherited_slice(P* p);
#if !WEFT_SPLIT_STACK
[[noreturn]] void overflow_report(G* g);
#endif

// runq_put() puts g in p's runnext (`next`; the G it displaces goes to the ring's tail)
// or at the tail of its ring. Owner only. Only the owner fills runnext and thieves only
// empty it: found empty, it stays empty until the store, which needs no locked
// exchange -- the case of every hand-off, inline; the rest is runq_put_slow().
// REQUIRES: g is runnable.
__attribute__((always_inline)) inline void runq_put(P* p, G* g, bool next) {
  WEFT_ASSERT(p->m == getm());
  WEFT_ASSERT(g->status.load(std::memory_order_relaxed) == GStatus::runnable);
  if (next && !p->runnext.load(std::memory_order_relaxed)) {
    p->runnext.store(g, std::memory_order_release);
    return;
  }
  runq_put_slow(p, g, next);
}

// runq_get() takes the next G of p: runnext first (inheriting the time slice), then the
// local queue. Owner only. Its runnext case is inline (every hand-off switch takes it);
// the ring's is runq_get_ring().
__attribute__((always_inline)) inline G* runq_get(P* p, bool* inherit) {
  WEFT_ASSERT(p->m == getm());
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next && p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    *inherit = true;
    return next;
  }
  *inherit = false;
  return runq_get_ring(p);
}

// execute_prep() makes g the running fiber of m and p. REQUIRES: m holds p; g is
// runnable, and was just taken off a run queue.
__attribute__((always_inline)) inline void execute_prep(M* m, P* p, G* g, bool inherit) {
  WEFT_ASSERT(m->p == p && p->m == m);
  WEFT_ASSERT(g->status.load(std::memory_order_relaxed) == GStatus::runnable);
  if (!inherit) {
    p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (p->preempt.load(std::memory_order_relaxed))
      p->preempt.store(false, std::memory_order_relaxed);
  }
  // Before g's stack can change: a stack walk from another thread (profile.cpp) that
  // read the old `resumes` and then saw any of g's new writes sees this one too.
  g->resumes.store(g->resumes.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  g_set_status(g, GStatus::running, std::memory_order_relaxed);
  g->m = m;
  m->curg = g;
  trace_event(EventKind::fiber_run, g->id);
  p->n_switches.store(p->n_switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// set_runnable_after_wait() moves a waiting G to runnable, after any stack trim that
// sysmon started on it has finished (the Dekker pair of stack_trim.cpp).
// REQUIRES: g is waiting.
inline void set_runnable_after_wait(G* g) {
  WEFT_ASSERT(g->status.load(std::memory_order_relaxed) == GStatus::waiting);
  g_set_status(g, GStatus::runnable, std::memory_order_release);
  asym_fence_light();
  while (g->trim.load(std::memory_order_acquire)) [[unlikely]] cpu_relax();
}

// make_runnable() is the first half of ready(): g leaves `waiting`, on no queue yet.
// REQUIRES: g is waiting, and the caller won the right to ready it (a second ready()
// of one wait finds it runnable: checked in set_runnable_after_wait()).
__attribute__((always_inline)) inline void make_runnable(G* g) {
  trace_event(EventKind::fiber_unpark, g->id);
  g->status_since.store(0, std::memory_order_relaxed);  // kept for waits only
  set_runnable_after_wait(g);
}

// post_switch() finishes whatever the previous context left in m->post. Runs first
// thing on every resumed context (see proc.h, "Switching"). Inline: it runs after
// every switch, and its common case, a park that commits, costs less than a call frame.
__attribute__((always_inline)) inline void post_switch(M* m) {
  const PostKind kind = m->post;
  if (kind == PostKind::none) return;
  G* prev = m->post_g;
  m->post = PostKind::none;
  m->post_g = nullptr;
  if (kind == PostKind::park) {
    g_set_status(prev, GStatus::waiting, std::memory_order_release);
    if (prev->park_kind == ParkKind::unlock) {  // park_releasing(): a channel's lock
      spin_unlock(*static_cast<std::atomic<std::uint32_t>*>(prev->park_arg));
      return;
    }
    if (prev->park_fn(prev, prev->park_arg)) return;
  }
  post_switch_rest(m, kind, prev);
}

// switch_away() leaves the running fiber g with post action `kind`: directly to the next
// runnable G of this P if there is one, to g0 otherwise. Returns when g is resumed.
// Always inlined into its few callers (park, gosched, check_preempt, a fiber's exit, the
// return from a blocking call): one return less to mispredict each time a fiber is
// resumed (see context_switch()).
// REQUIRES: g is m's running fiber (status running; syscall for a yield_global back
// from a blocking call); no runtime lock held but, for a ParkKind::unlock park, its own.
__attribute__((always_inline)) inline void switch_away(M* m, G* g, PostKind kind) {
  WEFT_ASSERT(m == getm() && g == m->curg);
  WEFT_ASSERT(g->status.load(std::memory_order_relaxed) == GStatus::running ||
              (kind == PostKind::yield_global &&
               g->status.load(std::memory_order_relaxed) == GStatus::syscall));
  WEFT_ASSERT(lock_rank_nheld() ==
              (kind == PostKind::park && g->park_kind == ParkKind::unlock ? 1 : 0));
  WEFT_ASSERT(kind != PostKind::park || g->park_kind != ParkKind::unlock ||
              lock_rank_held(g->park_arg));
#if !WEFT_SPLIT_STACK
  if (!stack_canary_ok(g->stack)) overflow_report(g);
#endif
  // The trace's fiber_park / fiber_stop (arg: 0 yield, 1 to the global queue -- preempted,
  // or back from a blocking call without a P -- 2 exit), here rather than in each caller:
  // switch_away has a frame anyway, so the hook costs its callers nothing when off.
  if (trace_enabled())
    trace_emit(
        kind == PostKind::park ? EventKind::fiber_park : EventKind::fiber_stop, g->id,
        kind == PostKind::exit           ? 2
        : kind == PostKind::yield_global ? 1
                                         : 0,
        0,
        kind == PostKind::park ? g->wait_reason.load(std::memory_order_relaxed) : WaitReason::none,
        kTraceAutoP);
  P* p = m->p;
  G* next = nullptr;
  bool inherit = false;
  if (p && !sched->stopping.load(std::memory_order_relaxed)) {
    if (p->preempt.load(std::memory_order_relaxed)) [[unlikely]] {
      systemstack([p] { end_inherited_slice(p); });  // then schedule() on g0 picks
    } else if (--p->switch_budget == 0) [[unlikely]] {
      p->switch_budget = kFairnessPeriod;
      if (sched->runqsize.load(std::memory_order_relaxed) > 0)
        systemstack([&] { next = globrunq_get(p, 1); });
      std::int64_t t0 = p->timer0.load(std::memory_order_relaxed);
      if (!next && !(t0 != 0 && t0 <= nanotime())) next = runq_get(p, &inherit);
    } else {
      next = runq_get(p, &inherit);
    }
  }
  m->post = kind;
  m->post_g = g;
  SwitchRecord* rec;
  if (next) {
    execute_prep(m, p, next, inherit);
    rec = context_switch(g->ctx, next->ctx, &m->rec, kind == PostKind::exit);
  } else {
    m->curg = nullptr;
    rec = context_switch(g->ctx, m->g0, &m->rec, kind == PostKind::exit);
  }
  // Resumed, possibly on another M: only `rec` tells which.
  M* now = static_cast<M*>(rec->arg);
  systemstack([now] { post_switch(now); });
}

// park_with() is the body of park() and park_releasing(), not an entry point: it parks
// the calling fiber, to be committed after the switch as `kind` says.
__attribute__((always_inline)) inline void park_with(WaitReason reason, ParkKind kind,
                                                     bool (*fn)(G*, void*), void* arg) {
  M* m = getm();
  G* g = m->curg;
  g->wait_reason.store(reason, std::memory_order_relaxed);
  g->park_kind = kind;
  g->park_fn = fn;
  g->park_arg = arg;
  g->status_since.store(tick_now(), std::memory_order_relaxed);
  switch_away(m, g, PostKind::park);
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
}

// park_releasing() parks a fiber that holds the spin word `lock` (a channel's, taken by
// wl_lock()), which the post-switch step releases: a channel's plain send or receive.
// REQUIRES: the caller holds `lock` and no other runtime lock.
__attribute__((always_inline)) inline void park_releasing(WaitReason reason,
                                                          std::atomic<std::uint32_t>* lock) {
  park_with(reason, ParkKind::unlock, nullptr, lock);
}

// ready_impl() is ready()'s work, on the system stack. Its common case -- this P's
// runnext empty, its ring empty -- is a dozen instructions, fewer than the calls it was
// split into cost.
// REQUIRES: no wait_list or timer_state lock held (the one that found g is released
// first).
__attribute__((always_inline)) inline void ready_impl(G* g) {
  WEFT_ASSERT(!lock_rank_holds(LockRank::wait_list) && !lock_rank_holds(LockRank::timer_state));
  make_runnable(g);
  M* m = getm();
  P* p = m ? m->p : nullptr;
  if (!p) {
    globrunq_put(g);
    return;
  }
  runq_put(p, g, true);
  // When g is all this P has queued, wake nobody: the usual reason for readying one
  // fiber is a hand-off (a send to a waiting receiver, an unlock, I/O done), after which
  // the readier parks and this M runs g next -- an M woken to steal it would find
  // nothing (runnext is stolen last) and park again: a futex wake and a wasted thread
  // switch per message on a server. If the readier keeps the P instead, sysmon wakes an
  // M to steal g after a tick (retake()). A second ready() pushes g to the queue, and
  // then a thief is woken at once -- unless the G first in line is hot (kHotNs), which
  // no thief would take yet: it would park again, a futex wake per hand-off for nothing.
  // If it cools while this P stays busy, sysmon wakes a thief as above.
  if (p->runq.empty() || hot_until(p) != 0) return;
  wakep();
}

// ready_inline() is ready(g, partner) (proc.h) inline: for a channel's blocking path.
__attribute__((always_inline)) inline void ready_inline(G* g, bool partner) {
  g->partner = partner;
  systemstack([g] { ready_impl(g); });
}

}  // namespace weft::detail
