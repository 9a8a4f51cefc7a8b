// asym_fence.h: asymmetric memory fences, for Dekker pairs with one hot side.
//
// A Dekker pair -- each side stores its flag, then loads the other's -- needs a full
// fence between the store and the load on both sides: a locked instruction each time.
// Where one side runs on every hand-off (ready()) and the other rarely (a stack-trim
// pass, stack_trim.cpp), the rare side can pay for both:
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) makes every CPU that is running one of
// the process's threads execute a full barrier, so the hot side needs only the
// compiler's ordering (folly's asymmetric barriers, liburcu's membarrier flavour):
//
//   hot side:   X = 1; asym_fence_light(); read Y
//   rare side:  Y = 1; asym_fence_heavy(); read X
//   -- they cannot both read 0.
//
// Without membarrier (not Linux, an old kernel, a seccomp filter) both fences are
// seq_cst fences.
//
// Tried and not kept: a P taking its runnext with plain stores against membarrier-
// fenced thieves (the same pair) made a channel ping-pong slower; the trim pair's fence
// did pay (measured: docs/benchmarks.md, seventh session; docs/design.md, "Trimming the
// stacks of long-parked fibers").
#pragma once

#include <atomic>

namespace weft::detail {

extern bool g_asym_fence_full;  // set once, by asym_fence_init(), before any fiber runs

// asym_fence_init() registers the process for membarrier, if the kernel has it.
void asym_fence_init();
inline void asym_fence_light() {
  if (g_asym_fence_full)
    std::atomic_thread_fence(std::memory_order_seq_cst);
  else
    std::atomic_signal_fence(std::memory_order_seq_cst);
}
void asym_fence_heavy();

}  // namespace weft::detail
