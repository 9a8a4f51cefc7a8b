// lock_rank.h: the runtime's lock order, declared once.
//
// A thread may acquire a lock only if its rank is greater than the rank of every lock it
// already holds; the one exception is wait_list, of which a thread may hold several at
// once if it takes them in address order (select locks its channels so). Where checks
// are on (Debug builds; WEFT_LOCK_RANK_CHECK) every acquisition and release of every
// runtime lock is checked against the locks the thread holds, and a violation aborts
// with both locks named; elsewhere the checks compile to nothing.
//
//   poll_desc < timer_state < sched < gfree < proc_timers < wait_list < registry
//     < ident < trace_session < trace_ring < poll_free < profile < cpuprof
//     < stack_pool < stats
//
// poll_desc      a PollDesc's `lock` (netpoller/src/poll_desc.cpp): deadline timers are
//                armed and disarmed under it (proc_timers, and sched through wakep()).
// timer_state    a Timer/Ticker state's lock (time.cpp, TimerState::waiters): arming
//                under it takes proc_timers, and sched through wakep().
// sched          Sched::lock: idle P and M lists, allm.
// gfree          Sched::gfree_lock: the global free-G batches.
// proc_timers    P::timer_lock: one P's timer heap. Timer callbacks run with it released.
// wait_list      a WaitList's lock (channels, sync primitives' waiter lists). A channel's
//                blocking send or receive parks holding it: the post-switch step releases
//                it (ParkKind::unlock, switch.h); it is the only lock held across a switch.
// registry       the all-fibers list (G allocation, snapshots).
// ident          a G's ident_lock (name, creation site, labels).
// trace_session  the scheduler trace's session and ring pool (trace.cpp g_lock).
// trace_ring     the trace's shared ring for threads without an M (g_shared.lock).
// poll_free      the PollDesc free list (netpoller).
// profile        the block/mutex profile tables (blockprof.cpp).
// cpuprof        the CPU profiler's state (cpuprof.cpp, Prof::mu).
// stack_pool     the stack allocators' pools (stack_guarded.cpp, stack_segmented.cpp).
// stats          the counters frozen at the end of a run (introspect.cpp).
//
// Forbidden while holding any runtime lock: switching fibers (but for a channel park's
// own lock, above), readying a fiber while holding a wait_list or timer_state lock (the
// one that found it is released first), allocating a G. A lock is released on the thread
// that took it.
#pragma once

#include <cstdint>

namespace weft::detail {

enum class LockRank : std::uint8_t {
  poll_desc = 1,
  timer_state,
  sched,
  gfree,
  proc_timers,
  wait_list,
  registry,
  ident,
  trace_session,
  trace_ring,
  poll_free,
  profile,
  cpuprof,
  stack_pool,
  stats,
};

// lock_rank_name() is the rank's name, for reports.
const char* lock_rank_name(LockRank r);

#ifdef WEFT_LOCK_RANK_CHECK
// lock_rank_acquire() records that this thread is about to take `lock` of rank r, and
// aborts if that breaks the order above. Call before taking it.
void lock_rank_acquire(LockRank r, const void* lock);
// lock_rank_release() records that this thread released `lock`; aborts if it held no
// such lock. Call after releasing it.
void lock_rank_release(const void* lock);
// lock_rank_held() tells whether this thread holds `lock`.
bool lock_rank_held(const void* lock);
// lock_rank_holds() tells whether this thread holds some lock of rank r.
bool lock_rank_holds(LockRank r);
// lock_rank_nheld() is the number of ranked locks this thread holds.
int lock_rank_nheld();
#else
inline void lock_rank_acquire(LockRank, const void*) {}
inline void lock_rank_release(const void*) {}
inline bool lock_rank_held(const void*) { return true; }
inline bool lock_rank_holds(LockRank) { return false; }
inline int lock_rank_nheld() { return 0; }
#endif

}  // namespace weft::detail
