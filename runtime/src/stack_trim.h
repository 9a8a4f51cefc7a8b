// stack_trim.h: sysmon's hook for giving back unused pages of long-parked fibers'
// stacks (stack_trim.cpp explains the protocol with ready()).
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

// The ready() side of the Dekker pair with the trimmer (stack_trim.cpp) is a store of
// the G's status and a load of its trim flag, which need a full fence between them.
// Where the kernel offers membarrier(2), the trimmer -- once a second at most -- pays
// for it instead, and ready() -- on every hand-off -- needs only the compiler's
// ordering: trim_fence_init() says which, at start-up.
extern bool g_trim_fence_full;
void trim_fence_init();
inline void trim_fence_light() {
  if (g_trim_fence_full)
    std::atomic_thread_fence(std::memory_order_seq_cst);
  else
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

// stack_trim_pass() trims every fiber that has been waiting for at least
// Sched::stack_trim_after ns at coarse time `now` (coarse_now()). Called by sysmon only.
void stack_trim_pass(std::int64_t now);

}  // namespace weft::detail
