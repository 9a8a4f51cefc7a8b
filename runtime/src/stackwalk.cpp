// stackwalk.cpp: see stackwalk.h.
#include "stackwalk.h"

#include <sys/uio.h>
#include <unistd.h>

#include "proc.h"
#include "systemstack.h"

#if WEFT_SPLIT_STACK
extern "C" void __splitstack_getcontext(void* context[10]);
#endif

namespace weft::detail {

bool fault_safe_read2(std::uintptr_t addr, std::uintptr_t out[2]) {
  static const pid_t self = getpid();
  iovec local{out, 2 * sizeof(std::uintptr_t)};
  iovec remote{reinterpret_cast<void*>(addr), 2 * sizeof(std::uintptr_t)};
  return process_vm_readv(self, &local, 1, &remote, 1, 0) ==
         static_cast<ssize_t>(2 * sizeof(std::uintptr_t));
}

int walk_current(G* g, std::uintptr_t fp, std::uintptr_t* out, int max) {
  StackRanges rs;
  rs.add(g->stack);
#if WEFT_SPLIT_STACK
  // The fiber's segments in use, from this thread's split-stack context (the system
  // stack does not change it), and the system stack itself, should fp be on it.
  void* ss[10];
  __splitstack_getcontext(ss);
  add_split_segments(rs, ss[1], false);
  if (M* m = getm(); m && m->system_stack) {
    const auto lo = reinterpret_cast<std::uintptr_t>(m->system_stack);
    rs.add(lo, lo + kSystemStackSize);
  }
#endif
  return fp_walk(fp, rs, out, 0, max);
}

int walk_saved(G* g, std::uintptr_t* out, int max) {
#if defined(__x86_64__)
  // Boost.Context 1.74 jump_fcontext (jump_x86_64_sysv_elf_gas.S) leaves, at the fctx it
  // returns: mxcsr/x87 cw at +0x00, r12 r13 r14 r15 rbx at +0x08..+0x28, rbp at +0x30,
  // and above them the return address its caller's `call` pushed, at +0x38.
  // make_fcontext builds a fresh one at ((top & -16) - 0x40): nothing to walk yet.
  constexpr std::uintptr_t kRbp = 0x30, kRet = 0x38, kFrame = 0x40;
  static_assert(kRet == kRbp + sizeof(std::uintptr_t));  // read2() reads both
  const std::uintptr_t fctx =
      reinterpret_cast<std::uintptr_t>(__atomic_load_n(&g->ctx.fctx, __ATOMIC_RELAXED));
  const std::uintptr_t top = reinterpret_cast<std::uintptr_t>(g->stack.lo) + g->stack.size;
  if (fctx == 0 || fctx == (top & ~std::uintptr_t{15}) - kFrame) return 0;
  StackRanges rs;
  rs.add(g->stack);
#if WEFT_SPLIT_STACK
  // Its segments in use when it switched out; it may resume and release them under us,
  // so they are read with process_vm_readv.
  add_split_segments(rs, __atomic_load_n(&g->ctx.ss[1], __ATOMIC_RELAXED), true);
#endif
  if (fctx & 7) return 0;
  const int i = rs.find(fctx, kFrame);
  if (i < 0 || max <= 0) return 0;
  std::uintptr_t w[2];  // rbp, return address
  if (!rs.read2(i, fctx + kRbp, w) || w[1] < 4096) return 0;
  out[0] = w[1];
  return fp_walk(w[0], rs, out, 1, max);
#else
  (void)g;
  (void)out;
  (void)max;
  return 0;
#endif
}

}  // namespace weft::detail
