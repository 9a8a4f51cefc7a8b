// stackwalk.h: frame-pointer stack walks in which no read can fault.
//
// weft is built with -fno-omit-frame-pointer, so every frame of our code starts with
// [saved %rbp][return address] at %rbp. A walk follows that chain -- but the chain may be
// anything: libc is built without frame pointers (its %rbp is a general register), a
// signal may land in a prologue, and a stack walked from another thread may be running
// and changing under the walk. So every word is read only from a known stack range that
// is mapped for the whole walk:
//
//   - the fiber's stack (guarded: [lo, lo+size); segmented: its first piece and the
//     libgcc segments in use, found from the current segment through `prev` links);
//   - the M's own thread stack (g0), recorded at M start, and its system stack
//     (segmented builds);
// and a range flagged `fault_safe` (segments of a fiber parked on another thread, which
// could be released if it resumed) is read with process_vm_readv, which fails with EFAULT
// instead of faulting. Within one range the chain must strictly rise (stacks grow down);
// it may jump between ranges (segments, the system stack); at most kMaxFrames frames.
//
// Everything here may run in the SIGPROF handler: no allocation, no locks, no calls that
// are not inlined (and no split-stack prologues: the handler runs on the signal stack).
// The raw reads are exempt from ASan/TSan/UBSan (they read other frames' redzones, race
// with a resumed fiber by design, and are aligned by check, not by type).
#pragma once

#include <cstddef>
#include <cstdint>

#include "context.h"
#include "stack.h"

#define WEFT_RAW_READS __attribute__((no_sanitize("address", "thread", "undefined")))
#define WEFT_WALK_INLINE inline __attribute__((always_inline)) WEFT_NO_SPLIT_STACK WEFT_RAW_READS

namespace weft::detail {

inline constexpr int kMaxFrames = 64;

struct StackRange {
  std::uintptr_t lo = 0, hi = 0;
  bool fault_safe = false;  // read with process_vm_readv (may be unmapped meanwhile)
};

// fault_safe_read2() reads two words at addr without faulting; false if unmapped.
// Not for signal handlers (it is a syscall, and it is out of line).
bool fault_safe_read2(std::uintptr_t addr, std::uintptr_t out[2]);

// (GCC accepts no_split_stack only on a declaration that precedes the definition: the
// functions below are declared with their attributes first, then defined.)
struct StackRanges {
  static constexpr int kMax = 40;
  StackRange r[kMax];
  int n = 0;

  WEFT_WALK_INLINE void add(std::uintptr_t lo, std::uintptr_t hi, bool fault_safe = false);
  WEFT_WALK_INLINE void add(const Stack& s);
  // find() returns the range holding [addr, addr + len), or -1.
  WEFT_WALK_INLINE int find(std::uintptr_t addr, std::size_t len) const;
  WEFT_WALK_INLINE bool read2(int i, std::uintptr_t addr, std::uintptr_t out[2]) const;
};

// fp_walk() follows the frame chain from frame pointer `fp`, appending return addresses
// to out[n..max); returns the new n.
WEFT_WALK_INLINE int fp_walk(std::uintptr_t fp, const StackRanges& rs, std::uintptr_t* out, int n,
                             int max);

inline void StackRanges::add(std::uintptr_t lo, std::uintptr_t hi, bool fault_safe) {
  if (lo < hi && n < kMax) r[n++] = StackRange{lo, hi, fault_safe};
}

inline void StackRanges::add(const Stack& s) {
  add(reinterpret_cast<std::uintptr_t>(s.lo), reinterpret_cast<std::uintptr_t>(s.lo) + s.size);
}

inline int StackRanges::find(std::uintptr_t addr, std::size_t len) const {
  for (int i = 0; i < n; i++)
    if (addr >= r[i].lo && addr <= r[i].hi && r[i].hi - addr >= len) return i;
  return -1;
}

inline bool StackRanges::read2(int i, std::uintptr_t addr, std::uintptr_t out[2]) const {
  if (r[i].fault_safe) return fault_safe_read2(addr, out);
  const volatile std::uintptr_t* p = reinterpret_cast<const volatile std::uintptr_t*>(addr);
  out[0] = p[0];
  out[1] = p[1];
  return true;
}

#if WEFT_SPLIT_STACK
// libgcc's __morestack (morestack.S) runs a function that needs a new segment: the
// function's prologue calls it before pushing %rbp, and it calls the rest of the function
// on the new segment from its own %rbp frame (< 0x100 bytes of code in GCC 12).
extern "C" void __morestack();
WEFT_WALK_INLINE bool in_morestack(std::uintptr_t pc);
inline bool in_morestack(std::uintptr_t pc) {
  return pc - reinterpret_cast<std::uintptr_t>(&__morestack) < 0x100;
}
#endif

inline int fp_walk(std::uintptr_t fp, const StackRanges& rs, std::uintptr_t* out, int n, int max) {
  constexpr std::size_t kWord = sizeof(std::uintptr_t);
  while (n < max) {
    if (fp & 7) break;
    const int i = rs.find(fp, 2 * kWord);
    if (i < 0) break;
    std::uintptr_t w[2];
    if (!rs.read2(i, fp, w)) break;
    std::uintptr_t next = w[0], ret = w[1];
    // ret 0: the outermost frame. next == ret: Boost.Context's entry trampoline, which
    // pushes its `finish` address as both (make_fcontext); not a frame of ours.
    if (ret < 4096 || next == ret) break;
#if WEFT_SPLIT_STACK
    if (in_morestack(ret)) {
      // A segment boundary: fp's function was called by __morestack, whose frame at
      // `next` holds [caller's %rbp][return into fp's prologue][fp's return address].
      // Report fp's return address (into its real caller) and go on from the caller's
      // frame, hiding __morestack as a debugger's unwinder does.
      const int j = rs.find(next, 3 * kWord);
      if (j < 0) break;
      std::uintptr_t a[2], b[2];
      if (!rs.read2(j, next, a) || !rs.read2(j, next + kWord, b)) break;
      ret = b[1];
      next = a[0];
      if (ret < 4096 || next == ret) break;
      out[n++] = ret;
      fp = next;  // on the previous segment: no ordering to check
      continue;
    }
#endif
    out[n++] = ret;
    if (next <= fp && rs.find(next, 2 * kWord) == i) break;
    fp = next;
  }
  return n;
}

#if WEFT_SPLIT_STACK
// libgcc's split-stack segment header (generic-morestack.c, struct stack_segment): the
// segment's stack is the `size` bytes that follow it.
struct SplitSegment {
  SplitSegment* prev;
  SplitSegment* next;
  std::size_t size;
  void* old_stack;
  void* dynamic_allocation;
  void* free_dynamic_allocation;
  void* extra;
};
static_assert(sizeof(SplitSegment) == 56);

// add_split_segments() adds the segments in use by a context whose current segment is
// `cur` (the segments its frames may be on: cur and its `prev`s). The current thread's
// own context may be read directly (libgcc unlinks a segment before unmapping it, and
// only releases segments past the current one); another thread's with fault_safe.
WEFT_WALK_INLINE void add_split_segments(StackRanges& rs, const void* cur, bool fault_safe);
inline void add_split_segments(StackRanges& rs, const void* cur, bool fault_safe) {
  std::uintptr_t seg = reinterpret_cast<std::uintptr_t>(cur);
  for (int k = 0; seg != 0 && k < 32; k++) {
    if (seg & 7) break;
    std::uintptr_t prev, size;
    if (fault_safe) {
      std::uintptr_t a[2], b[2];
      if (!fault_safe_read2(seg, a) || !fault_safe_read2(seg + 16, b)) break;
      prev = a[0];
      size = b[0];
    } else {
      const volatile std::uintptr_t* p = reinterpret_cast<const volatile std::uintptr_t*>(seg);
      prev = p[0];
      size = p[2];
    }
    if (size == 0 || size > (std::size_t{1} << 32)) break;
    const std::uintptr_t lo = seg + sizeof(SplitSegment);
    rs.add(lo, lo + size, fault_safe);
    seg = prev;
  }
}
#endif

struct G;
// walk_current() walks the calling fiber g from `fp`, the frame address of a live frame
// of the caller on g's stack (the first pc is that frame's return address). Returns the
// number of pcs. REQUIRES: g is getg(); on a system stack (segmented builds).
WEFT_NO_SPLIT_STACK WEFT_RAW_READS int walk_current(G* g, std::uintptr_t fp, std::uintptr_t* out,
                                                    int max);
// walk_saved() walks a fiber that is switched out (waiting or runnable) from the
// registers jump_fcontext saved at g->ctx.fctx. It may race with g being resumed
// elsewhere: the result is then garbage (the caller checks G::resumes) but every read
// stays inside g's stack. Returns 0 for a fiber that never ran.
WEFT_NO_SPLIT_STACK WEFT_RAW_READS int walk_saved(G* g, std::uintptr_t* out, int max);

}  // namespace weft::detail
