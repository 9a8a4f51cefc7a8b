// lock_rank.cpp: the lock order checker (see lock_rank.h), and assert_fail() (check.h).
#include "lock_rank.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "check.h"

namespace weft::detail {

namespace {
// report() writes a fatal error line to stderr without allocating, and aborts.
[[noreturn]] void report(const char* buf, int n) {
  if (n > 0 && write(2, buf, static_cast<std::size_t>(n)) < 0) {
  }
  std::abort();
}
}  // namespace

void assert_fail(const char* expr, const char* file, int line) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "fatal error: assertion failed: %s\n\tat %s:%d\n", expr,
                        file, line);
  report(buf, n < 0 ? 0 : std::min<int>(n, sizeof buf - 1));
}

const char* lock_rank_name(LockRank r) {
  switch (r) {
    case LockRank::poll_desc:
      return "poll_desc";
    case LockRank::timer_state:
      return "timer_state";
    case LockRank::sched:
      return "sched";
    case LockRank::gfree:
      return "gfree";
    case LockRank::proc_timers:
      return "proc_timers";
    case LockRank::wait_list:
      return "wait_list";
    case LockRank::registry:
      return "registry";
    case LockRank::ident:
      return "ident";
    case LockRank::trace_session:
      return "trace_session";
    case LockRank::trace_ring:
      return "trace_ring";
    case LockRank::poll_free:
      return "poll_free";
    case LockRank::profile:
      return "profile";
    case LockRank::cpuprof:
      return "cpuprof";
    case LockRank::stack_pool:
      return "stack_pool";
    case LockRank::stats:
      return "stats";
  }
  return "?";
}

#ifdef WEFT_LOCK_RANK_CHECK

namespace {
// The locks this thread holds, in acquisition order. A select holds up to 64 channel
// locks (select.h), plus what it may take under them.
constexpr int kMaxHeld = 80;
struct Held {
  LockRank rank;
  const void* lock;
};
thread_local Held held[kMaxHeld];
thread_local int nheld = 0;

[[noreturn]] void violation(const char* what, LockRank r, const void* lock, const Held* h) {
  char buf[256];
  int n =
      h ? std::snprintf(buf, sizeof buf,
                        "fatal error: lock order violation: %s %s (%d) %p while holding %s "
                        "(%d) %p\n",
                        what, lock_rank_name(r), static_cast<int>(r), lock, lock_rank_name(h->rank),
                        static_cast<int>(h->rank), h->lock)
        : std::snprintf(buf, sizeof buf, "fatal error: lock order violation: %s %p\n", what, lock);
  report(buf, n < 0 ? 0 : std::min<int>(n, sizeof buf - 1));
}
}  // namespace

void lock_rank_acquire(LockRank r, const void* lock) {
  for (int i = 0; i < nheld; i++) {
    const Held& h = held[i];
    if (h.lock == lock) violation("acquiring (again)", r, lock, &h);
    if (h.rank < r) continue;
    // Same rank: only wait lists, and only in address order (select).
    if (h.rank == r && r == LockRank::wait_list && h.lock < lock) continue;
    violation("acquiring", r, lock, &h);
  }
  if (nheld == kMaxHeld) violation("too many locks held acquiring", r, lock, nullptr);
  held[nheld++] = Held{r, lock};
}

void lock_rank_release(const void* lock) {
  for (int i = nheld - 1; i >= 0; i--)
    if (held[i].lock == lock) {
      for (int j = i; j + 1 < nheld; j++) held[j] = held[j + 1];
      nheld--;
      return;
    }
  violation("releasing a lock this thread does not hold:", LockRank::wait_list, lock, nullptr);
}

bool lock_rank_held(const void* lock) {
  for (int i = 0; i < nheld; i++)
    if (held[i].lock == lock) return true;
  return false;
}

bool lock_rank_holds(LockRank r) {
  for (int i = 0; i < nheld; i++)
    if (held[i].rank == r) return true;
  return false;
}

int lock_rank_nheld() { return nheld; }

#endif

}  // namespace weft::detail
