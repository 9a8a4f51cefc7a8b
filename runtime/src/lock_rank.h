// lock_rank.h: the runtime's lock order, declared once.
//
// A thread may acquire a lock only if its rank is greater than the rank of every lock it
// already holds. Debug builds (WEFT_LOCK_RANK_CHECK) check this on every acquisition and
// abort with both ranks named; release builds compile the checks away.
//
//   timer_state < sched < proc_timers < wait_list < registry < profile
//
// timer_state a Timer/Ticker state's lock (time.cpp): arming under it takes the rest.
// sched       Sched::lock: idle P and M lists, M creation.
// proc_timers P::timer_lock: one P's timer heap. Timer callbacks run with it released.
// wait_list   a WaitList's spin lock (sync primitives, Ticker/Timer waiters).
// registry    the all-fibers list (G allocation, snapshots).
// profile     the block/mutex profile tables.
//
// Forbidden while holding any runtime lock: parking, switching fibers, allocating a G.
// A parked fiber's lock is released by the post-switch action, on the next context.
#pragma once

#include <cstdint>

namespace weft::detail {

enum class LockRank : std::uint8_t {
  timer_state = 1,
  sched = 2,
  proc_timers = 3,
  wait_list = 4,
  registry = 5,
  profile = 6,
};

#ifdef WEFT_LOCK_RANK_CHECK
void lock_rank_acquire(LockRank r);
void lock_rank_release(LockRank r);
#else
inline void lock_rank_acquire(LockRank) {}
inline void lock_rank_release(LockRank) {}
#endif

}  // namespace weft::detail
