// lock_rank.cpp: the debug-build lock order checker (see lock_rank.h).
#include "lock_rank.h"

#ifdef WEFT_LOCK_RANK_CHECK
#include <cstdio>
#include <cstdlib>

namespace weft::detail {

namespace {
thread_local LockRank held[16];
thread_local int nheld = 0;
}  // namespace

void lock_rank_acquire(LockRank r) {
  for (int i = 0; i < nheld; i++)
    if (held[i] >= r) {
      std::fprintf(stderr, "fatal error: lock order violation: acquiring rank %d while holding %d\n",
                   static_cast<int>(r), static_cast<int>(held[i]));
      std::abort();
    }
  if (nheld < 16) held[nheld++] = r;
}

void lock_rank_release(LockRank r) {
  for (int i = nheld - 1; i >= 0; i--)
    if (held[i] == r) {
      held[i] = held[--nheld];
      return;
    }
}

}  // namespace weft::detail
#endif
