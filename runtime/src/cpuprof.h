// cpuprof.h (private): the CPU profiler's hooks into the M lifecycle (weft/profile.h).
//
// Each M registers with the profiler when its thread starts, after its signal stack is
// set up (the SIGPROF handler runs on it), and unregisters before its thread exits; while
// a profile runs, registration arms the M's CPU-time timer and unregistration deletes it
// and keeps what it recorded. Both run on the M's own thread, on g0.
#pragma once

namespace weft::detail {

struct M;

void cpuprof_thread_start(M* m);
void cpuprof_thread_stop(M* m);

}  // namespace weft::detail
