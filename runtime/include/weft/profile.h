// weft/profile.h: raw profiles, as the runtime records them.
//
// These are stacks of return addresses, not symbols: turning them into pprof's
// profile.proto (symbolized, gzip'd) is the job of weft::debug (debug/), which keeps the
// runtime free of DWARF, protobuf and zlib. Stacks are walked by frame pointers (the
// project is built with -fno-omit-frame-pointer), innermost frame first.
#pragma once

#include <cstdint>
#include <vector>

#include "weft/introspect.h"
#include "weft/labels.h"

namespace weft::profile {

// One aggregated sample: a stack, its labels, and the sample's values.
struct Sample {
  std::vector<std::uintptr_t> pcs;  // innermost first; return addresses except pcs[0]
                                    // of a CPU sample, which is the interrupted PC
  Labels labels;
  FiberId fiber = 0;       // CPU: the fiber interrupted (0: the scheduler), of
                           // the first sample aggregated here; block/mutex: 0
  std::int64_t count = 0;  // samples / contention events
  std::int64_t value = 0;  // CPU: count * period ns; block/mutex: delay ns
};

// ---- CPU -----------------------------------------------------------------------------
// start_cpu() arms a per-thread CLOCK_THREAD_CPUTIME_ID timer on every M (and on Ms
// started later) that sends SIGPROF `hz` times per CPU-second of that thread. The
// handler walks the interrupted stack into a lock-free per-M buffer. Returns false if a
// CPU profile is already running (as Go's StartCPUProfile errors).
bool start_cpu(int hz = 100);

struct CpuProfile {
  int hz = 0;
  std::int64_t period_ns = 0;  // 1e9 / hz
  std::int64_t start_ns = 0;   // wall clock (unix ns) when started
  std::int64_t duration_ns = 0;
  std::uint64_t lost = 0;       // samples dropped (buffer full)
  std::vector<Sample> samples;  // aggregated by (stack, labels)
};
// stop_cpu() disarms the timers and returns what was recorded. Empty if none running.
CpuProfile stop_cpu();
bool cpu_running();

// ---- Block and mutex ---------------------------------------------------------------------
// Rates are set with weft::set_block_profile_rate / set_mutex_profile_fraction
// (introspect.h). These return the events recorded since the process started, with the
// stack of the blocked fiber (innermost: the runtime's blocking call site's caller
// chain), aggregated by (stack, labels); value is the total delay in ns.
std::vector<Sample> block();
std::vector<Sample> mutex();
std::int64_t block_rate();  // current rate (ns), for the profile's period
int mutex_fraction();       // current fraction

// ---- Fibers ------------------------------------------------------------------------------
struct FiberStack {
  FiberInfo info;
  Labels labels;
  // Running fibers: the stack of the caller of fibers() for the calling fiber itself,
  // empty for fibers running on other threads (their stacks are live). Parked and
  // runnable fibers: walked from their saved context.
  std::vector<std::uintptr_t> pcs;
};
// fiber_stacks() snapshots every live fiber with its stack (Go's goroutine profile).
std::vector<FiberStack> fiber_stacks();

}  // namespace weft::profile
