// leaf.h: libc leaf functions that fiber-side runtime code may call on a fiber stack.
//
// With segmented stacks, gold rewrites the prologue of every split-stack function that
// *directly* calls code compiled without -fsplit-stack (all of libc) so that it always
// runs on a ~1 MiB segment: one such call on a fiber's path would give every fiber a
// 1 MiB segment (an mmap, and resident pages). Runtime code that needs libc therefore
// either runs on the M's system stack (systemstack.h), or, for these few leaf calls
// that use well under the 512 bytes kept below every segment's guard, calls through
// pointers defined in leaf.cpp -- a non-split object, so no call in split code names a
// non-split symbol and gold leaves the callers alone.
#pragma once

#include <time.h>

namespace weft::detail {

extern int (*const leaf_clock_gettime)(clockid_t, struct timespec*);
extern int (*const leaf_sched_yield)();
extern long (*const leaf_syscall6)(long, long, long, long, long, long, long);
// leaf_syscall6_neg() is syscall(2) returning -errno on failure: reading errno from
// split code would itself be a call into libc (__errno_location).
extern long (*const leaf_syscall6_neg)(long, long, long, long, long, long, long);

}  // namespace weft::detail
