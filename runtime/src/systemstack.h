// systemstack.h: run runtime code on the M's system stack (Go's systemstack).
//
// Fiber stacks may be a 2 KiB first segment (segmented stacks); the scheduler's own
// work -- allocating, taking runtime locks that may sleep, futex calls, moodycamel's
// queue -- calls libc, which is not split-stack code and must not run there (see
// leaf.h). systemstack(fn) switches the stack pointer to a per-M 1 MiB system stack,
// clears the split-stack guard for the duration (libc always fits), runs fn and
// switches back: a few instructions, no context switch. fn must not park, switch
// fibers, or throw. On g0 or when already on the system stack, it calls fn directly;
// with guarded stacks (no split-stack code) it always does.
#pragma once

#include <cstddef>
#include <utility>

namespace weft::detail {

void systemstack_call(void (*fn)(void*), void* arg);

template <class F>
inline void systemstack(F&& f) {
#if WEFT_SPLIT_STACK
  systemstack_call([](void* p) { (*static_cast<std::remove_reference_t<F>*>(p))(); },
                   const_cast<void*>(static_cast<const void*>(&f)));
#else
  std::forward<F>(f)();
#endif
}

// The size of an M's system stack (M::system_stack): mapped, committed as touched.
inline constexpr std::size_t kSystemStackSize = std::size_t{1} << 20;

struct M;
// systemstack_init() gives m its system stack; systemstack_free() releases it.
void systemstack_init(M* m);
void systemstack_free(M* m);

}  // namespace weft::detail
