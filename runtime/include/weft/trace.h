// weft/trace.h: the scheduler's event trace (Go's runtime/trace, for the scheduler).
//
// While a trace runs, the scheduler appends fixed-size events to a bounded ring buffer
// per M (no locks, no allocation on the hot path; when a ring is full the oldest events
// are overwritten and counted as lost). weft::debug renders a trace as Chrome trace-event
// JSON for Perfetto and chrome://tracing.
//
// Separately, WEFT_SCHEDTRACE=<ms> makes the runtime print one line per interval to
// stderr, like Go's GODEBUG=schedtrace:
//   SCHED 1004ms: procs=2 idleprocs=1 threads=4 spinning=0 globrunq=0 runq=[0 3] fibers=12
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "weft/introspect.h"

namespace weft::trace {

enum class EventKind : std::uint8_t {
  fiber_create,    // fiber = new fiber, arg = creator's fiber id (0 if none)
  fiber_run,       // an M starts running `fiber` on P `p`
  fiber_stop,      // `fiber` stops running: yield (arg=0), preempted (arg=1; also a fiber
                   // back from blocking() whose P was taken), exit (arg=2)
  fiber_park,      // `fiber` parks; reason says why
  fiber_unpark,    // `fiber` made runnable by the fiber running on this M (or a thread)
  steal,           // P `p` stole `arg` fibers from P `arg2`
  handoff,         // sysmon retook P `p` from M in a blocking call (arg = M id)
  blocking_enter,  // `fiber` entered weft::blocking()
  blocking_exit,   // and left it
  netpoll_wake,    // the netpoller made `arg` fibers runnable
  m_park,          // this M parks (no work)
  m_unpark,        // this M woke up
  stack_free,      // stacks returned to the kernel (arg = count): stack GC
};
const char* to_string(EventKind k);

struct Event {
  std::int64_t ts_ns;  // monotonic (now_ns() clock)
  EventKind kind;
  WaitReason reason;  // fiber_park only
  std::int16_t p;     // P id, -1 if none
  std::int32_t m;     // M id, -1 if not an M (sysmon: -2)
  FiberId fiber;
  std::uint64_t arg;
  std::uint64_t arg2;
};

// start() begins a trace with room for `events_per_m` events per M. Returns false if a
// trace is already running.
bool start(std::size_t events_per_m = 1 << 16);
struct Trace {
  std::int64_t start_ns = 0, end_ns = 0;                     // monotonic
  std::uint64_t lost = 0;                                    // events overwritten
  std::vector<Event> events;                                 // sorted by ts_ns
  std::vector<std::pair<FiberId, std::string>> fiber_names;  // named fibers seen
};
// stop() ends the trace and returns its events. Empty if none running.
Trace stop();
bool running();

}  // namespace weft::trace
