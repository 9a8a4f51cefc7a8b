// trace.h (private): the scheduler's hooks into the event trace (weft/trace.h).
//
// Every hook is one line, `trace_event(kind, ...)`. With no trace running it costs one
// relaxed load of `trace_on` and a not-taken branch (plus, at most, a load of an argument
// such as g->id). The recorder (trace_emit, trace.cpp) is cold and out of line; it stamps
// the event with the time, the calling M and its P, and appends it to the calling
// thread's ring. Keep hooks out of functions that otherwise need no frame (a tail call):
// a call on the cold path makes GCC save registers on the hot one (docs/design.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "weft/trace.h"

namespace weft::detail {

using trace::EventKind;

extern std::atomic<bool> trace_on;

// `p` of an event: the calling M's P unless a hook names one (sysmon's handoff).
inline constexpr int kTraceAutoP = -32768;

[[gnu::cold]] void trace_emit(EventKind kind, FiberId fiber, std::uint64_t arg, std::uint64_t arg2,
                              WaitReason reason, int p);

inline bool trace_enabled() { return trace_on.load(std::memory_order_relaxed); }

inline void trace_event(EventKind kind, FiberId fiber = 0, std::uint64_t arg = 0,
                        std::uint64_t arg2 = 0, WaitReason reason = WaitReason::none,
                        int p = kTraceAutoP) {
  if (__builtin_expect(trace_enabled(), 0)) trace_emit(kind, fiber, arg, arg2, reason, p);
}

// trace_fiber_exit() keeps the name of a named fiber that ends during a trace (its G's
// name is cleared at exit), so that stop() can name it. Call with trace_enabled().
// REQUIRES: on a system stack (allocates).
void trace_fiber_exit(FiberId id, const std::string& name);

// trace_thread_is_sysmon() marks the calling thread as sysmon: its events carry m = -2.
void trace_thread_is_sysmon();

}  // namespace weft::detail
