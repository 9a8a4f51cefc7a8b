// weft/introspect.h: what the runtime knows about itself, for dumps and profiles.
//
// Everything here is a snapshot: cheap to take, consistent per item, not across items.
// The /debug endpoints and the pprof writers (a later layer) are built on these calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/runtime.h"

namespace weft {

enum class FiberState { runnable, running, waiting, syscall };

// WaitReason says why a fiber is parked, in Go's words ("chan receive", "sleep", ...).
enum class WaitReason : std::uint8_t {
  none,
  chan_receive,
  chan_send,
  select,
  sleep,
  timer,
  mutex,
  rwmutex_read,
  rwmutex_write,
  cond,
  waitgroup,
  semaphore,
  once,
  io,
};
const char* to_string(WaitReason r);
const char* to_string(FiberState s);

struct FiberInfo {
  FiberId id;
  std::string name;
  FiberState state;
  WaitReason wait_reason;    // none unless waiting
  std::string created_file;  // where go() was called
  std::uint32_t created_line;
  std::string created_function;
  // When it started waiting (or entered a blocking call): a coarse monotonic clock
  // (~4 ms resolution, comparable with now_ns()); 0 for runnable and running fibers.
  std::int64_t state_since_ns;
};

// fibers() lists every live fiber (started, not finished).
std::vector<FiberInfo> fibers();

struct ProcStats {
  int id;
  std::uint32_t runq_len;  // local run queue length, runnext included
  std::uint64_t spawned, switches, steals, global_takes;
};

struct SchedStats {
  int procs = 0;
  int idle_procs = 0;
  int threads = 0;   // Ms created
  int spinning = 0;  // Ms looking for work
  std::int64_t global_runq = 0;
  std::int64_t live_fibers = 0;
  std::uint64_t spawned = 0;   // fibers started
  std::uint64_t switches = 0;  // fiber context switches
  std::uint64_t steals = 0;    // successful run-queue steals
  std::uint64_t stolen = 0;    // fibers moved by them
  std::uint64_t global_takes = 0;
  std::uint64_t parks = 0;             // times an M parked for lack of work
  std::uint64_t wakeups = 0;           // times a parked M was woken
  std::uint64_t handoffs = 0;          // Ps retaken by sysmon from a blocking call
  std::uint64_t preempt_requests = 0;  // fibers flagged for running > 10 ms
  std::uint64_t preemptions = 0;       // flags honoured
  std::uint64_t sysmon_ticks = 0;
  std::uint64_t timer_fires = 0;
  std::uint64_t stacks_allocated = 0;     // fresh first stacks/segments
  std::uint64_t stack_trims = 0;          // parked fibers whose stacks were trimmed
  std::uint64_t stack_trimmed_bytes = 0;  // address range given back (not all was resident)
  std::uint64_t poll_spin_hits = 0;       // poller spins (Options::poll_spin_us) that found I/O
  const char* stack_kind = "";            // "guarded" or "segmented"
  std::uint64_t leaked_at_exit = 0;       // fibers still alive when the last run() returned
  std::vector<ProcStats> per_proc;
};

// stats() returns the counters of the running runtime (or of the last one, after
// run() returned).
SchedStats stats();

// A blocking event aggregated by site: where fibers blocked and for how long.
struct BlockRecord {
  std::string file;
  std::uint32_t line;
  std::string function;
  WaitReason reason;
  std::uint64_t count;
  std::int64_t delay_ns;
};

// set_block_profile_rate() follows Go's runtime.SetBlockProfileRate: 0 disables it,
// 1 records every blocking event, r > 1 records events of at least r ns and a
// proportional sample of shorter ones.
void set_block_profile_rate(std::int64_t rate_ns);
// set_mutex_profile_fraction() follows Go's runtime.SetMutexProfileFraction: on
// average 1 in `fraction` contention events is recorded; 0 disables. Returns the old.
int set_mutex_profile_fraction(int fraction);

std::vector<BlockRecord> block_profile();
std::vector<BlockRecord> mutex_profile();

}  // namespace weft
