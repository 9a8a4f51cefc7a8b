// asym_fence.cpp: see asym_fence.h.
#include "asym_fence.h"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace weft::detail {

bool g_asym_fence_full = true;

namespace {
#if defined(__linux__)
int membarrier(int cmd) { return static_cast<int>(syscall(__NR_membarrier, cmd, 0, 0)); }
#endif
}  // namespace

void asym_fence_init() {
#if defined(__linux__)
  // Registration is per process and idempotent; a runtime started again keeps it.
  static const bool ok = [] {
    const int cmds = membarrier(MEMBARRIER_CMD_QUERY);
    return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
  }();
  g_asym_fence_full = !ok;
#endif
}

void asym_fence_heavy() {
#if defined(__linux__)
  if (!g_asym_fence_full && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace weft::detail
