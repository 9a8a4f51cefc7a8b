// test_hooks.h: internals exposed to tests only (LevelDB's TEST_ convention).
//
// The weft_runtime_testing library (runtime/testing/test_hooks.cpp), which only the test
// suites link: neither this header nor the hooks are installed or part of weft_runtime.
// The hooks reach the runtime's internals through its private headers (runtime/src).
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::detail {

// TEST_m_tid() is the kernel thread id recorded by the M running the caller, read
// through the runtime's non-cached per-thread accessor.
long TEST_m_tid();
// TEST_stack_kind() is "segmented" or "guarded".
const char* TEST_stack_kind();
// TEST_stack_guarded() tells whether the calling fiber's stack has a guard page, and
// TEST_stack_guard_regions() whether guards are the kernel's guard regions (no mapping
// split per stack) rather than mprotect.
bool TEST_stack_guarded();
bool TEST_stack_guard_regions();
// TEST_runq_race() pushes `items` distinct entries through a P's run queue ring -- at
// the tail and at the front, popping from the head and from behind the front ones as
// it goes, as an owner P does -- while `thieves` threads steal from it, and returns how
// many entries were not taken exactly once.
std::uint64_t TEST_runq_race(int items, int thieves);
// TEST_globrunq_race() puts `items` distinct entries into a global run queue from a
// thread outside the runtime while `takers` threads take batches of varied size, as Ms
// do, and returns how many entries were not taken exactly once.
std::uint64_t TEST_globrunq_race(int items, int takers);
// TEST_steal_hot() tells whether a thief takes the one G in a P's ring that a hand-off
// displaced there `age_ns` ago (-1: a G queued any other way); TEST_steal_hot_ns() is
// how long such a G is left to its P.
bool TEST_steal_hot(std::int64_t age_ns);
std::int64_t TEST_steal_hot_ns();
// TEST_hot_left() is how much longer (ns) such a G displaced `age_ns` ago stays hot, as
// an idle M reckons it to sleep until then instead of spinning: 0 once it has cooled.
std::int64_t TEST_hot_left(std::int64_t age_ns);
// TEST_spin_race() has `threads` plain threads each take a runtime spin lock
// `increments` times and bump a counter under it, the first take of each made while the
// caller holds the lock; `lost` is how many increments are missing (0 if the lock
// excludes), `contended` how many takes went down the contended path (at least
// `threads`).
struct SpinRaceResult {
  std::uint64_t lost;
  std::uint64_t contended;
};
SpinRaceResult TEST_spin_race(int threads, int increments);
// TEST_first_stack_size() is the usable size of the calling fiber's first segment.
std::size_t TEST_first_stack_size();
// TEST_fiber_has_segments() tells whether libgcc has mapped segments for the calling
// fiber (segmented stacks): a fiber that stays on its first segment has none.
bool TEST_fiber_has_segments();

// TEST_checks_enabled() tells whether the runtime was built with its checks on
// (WEFT_ASSERT and the lock-rank checker: Debug builds, or -DWEFT_CHECKS=ON).
bool TEST_checks_enabled();
// TEST_violate() breaks one of the runtime's checked rules, for a death test: where the
// checks are on the process aborts with the check's message (kept in each comment);
// elsewhere what happens is undefined, so call it only where TEST_checks_enabled().
enum class Violation {
  lock_order,  // take a sched lock while holding a registry one: "lock order violation"
  lock_twice,  // take one wait list's lock twice: "acquiring (again)"
  wait_lists_out_of_order,  // two wait-list locks against address order: "lock order violation"
  unlock_unheld,            // release a lock this thread does not hold: "does not hold"
  list_unlocked,            // push a Waiter on a wait list without its lock: "assertion failed"
  ready_running,            // ready() the calling, running fiber: "assertion failed"
  ready_holding_lock,       // ready() a fiber while holding a wait-list lock: "assertion failed"
  switch_holding_lock,      // yield while holding a wait-list lock: "assertion failed"
  runq_not_owner,           // put a G on a P this thread does not hold: "assertion failed"
};
void TEST_violate(Violation v);

}  // namespace weft::detail
