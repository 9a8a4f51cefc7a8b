// stack.h: where fibers' stacks come from. Two allocators behind one interface.
//
// segmented (WEFT_SPLIT_STACK; default with GCC on x86-64 Linux): code is compiled with
//   -fsplit-stack, so every function prologue compares the stack pointer with a guard
//   in the TCB and calls __morestack to chain a new segment when its frame would not
//   fit. A fiber starts on a small first segment carved from a slab and grows on demand;
//   see stack_segmented.cpp for the layout and for how weft bounds the "hot split".
// guarded (portable; sanitizers, other compilers): a fixed mmap reservation per stack,
//   committed lazily by the kernel, with a guard page below it so that an overflow
//   faults; the fault handler names the fiber (stack_guarded.cpp).
//
// Stacks stay with their G when it dies (a recycled G reuses its stack, as Go's gfput
// does), so allocation is rare after warm-up; StackPool only sees G-pool overflow.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::detail {

struct Stack {
  void* lo = nullptr;        // lowest usable address of the first segment
  std::size_t size = 0;      // usable bytes [lo, lo + size)
  void* base = nullptr;      // the whole allocation (guard page included), for release
  std::size_t reserved = 0;  // bytes of `base`
  bool guarded = false;      // has a guard page at base (faults on any access)
  bool counted = false;      // the guard is an mprotect, counted against vm.max_map_count
};

// Unguarded guarded-allocator stacks (past the vm.max_map_count budget) are checked
// whenever their fiber switches out: the lowest word must still be zero, as the kernel
// handed it out. (A written canary would cost a resident page per stack; reading an
// untouched page maps the shared zero page.)
inline bool stack_canary_ok(const Stack& s) {
  return s.guarded || !s.base || *static_cast<const volatile std::uint64_t*>(s.lo) == 0;
}

// stack_init() configures the allocator for a runtime (guarded size, limits).
void stack_init(std::size_t guarded_size);
// stack_alloc() returns a fresh stack. Thread safe. Aborts with a clear message if the
// system refuses (ENOMEM, vm.max_map_count).
Stack stack_alloc();
// stack_free() returns a stack. Thread safe. Pooled up to a cap; past it the memory
// is returned to the kernel (MADV_DONTNEED) and, past a larger cap, unmapped.
void stack_free(Stack s);
// stack_release_all() drops the pool (runtime shutdown).
void stack_release_all();

// stack_for_address() tells whether `addr` lies in the guard page of a guarded stack
// known to the allocator; used by the overflow handler.
bool stack_guard_contains(const Stack& s, const void* addr);

// The name of the allocator in use: "segmented" or "guarded".
const char* stack_kind();
// Whether guard pages are the kernel's guard regions (MADV_GUARD_INSTALL), which cost no
// mapping of their own, rather than mprotect. False for segmented stacks.
bool stack_guard_regions();

#if WEFT_SPLIT_STACK
// split_stack_make() fills a split-stack context for a fiber whose first segment is
// [lo, lo + size). split_stack_release() frees the extra segments a finished fiber grew.
// split_stack_make() keeps the segment list already in ss[0] (a recycled G's).
void split_stack_make(void* ss[10], void* lo, std::size_t size);
void split_stack_release(void* ss[10]);
bool split_stack_has_segments(void* const ss[10]);
#endif

}  // namespace weft::detail
