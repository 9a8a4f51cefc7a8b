// g.h: the fiber (G, after Go's g).
//
// G status says who owns the stack and which queue the G is on. Transitions:
//
//            go()                  schedule()               park()
//   idle ----------> runnable ---------------> running ---------------> waiting
//                      ^  ^                    |  |  |                     |
//                      |  +---- yield() -------+  |  | enter_blocking()    | ready()
//                      |                          |  v                     |
//                      +------------------------- | syscall               |
//                      |   exit_blocking() w/o P  |                        |
//                      +-----------------------------------------------------+
//                                                 | fn returns
//                                                 v
//                                               dead  (in a P's free list; reused by go())
//
//   idle      fresh or recycled; on no queue; nobody runs it.
//   runnable  on exactly one run queue (a P's runq or runnext, or the global queue);
//             its stack is quiescent and owned by whoever dequeues it.
//   running   executing on an M (g->m); owns its stack; on no queue.
//   waiting   parked: on some wait list (a WaitList, a timer, a poll descriptor), on no
//             run queue. Exactly one waker wins the right to ready() it.
//   syscall   in weft::blocking(): owns its stack and its M; its P may be retaken.
//   dead      finished; in a free list; its stack is kept for reuse.
//
// Every status change goes through g_set_status(), which checks it against this diagram
// where checks are on (check.h), as Go's casgstatus does.
#pragma once

#include <atomic>
#include <cstdint>
#include <source_location>
#include <string>

#include "check.h"
#include "context.h"
#include "stack.h"
#include "weft/detail/function.h"
#include "weft/introspect.h"

namespace weft::detail {

struct M;
struct P;
struct LabelSet;

enum class GStatus : std::uint8_t { idle, runnable, running, waiting, syscall, dead };

// How the post-switch step commits a park (switch.h, post_switch()).
enum class ParkKind : std::uint8_t {
  call,    // run G::park_fn(g, G::park_arg); false cancels the park (g runs again next)
  unlock,  // release the spin word G::park_arg: a channel's lock (park_releasing())
};

struct G {
  Context ctx;  // saved registers while not running
  Stack stack;  // first segment (segmented) or the whole stack
  std::atomic<GStatus> status{GStatus::idle};
  std::atomic<WaitReason> wait_reason{WaitReason::none};  // relaxed: read by snapshots
  std::atomic<std::int64_t> status_since{0};              // now_ns() of the last status change
  FiberId id = 0;
  M* m = nullptr;          // the M running it (valid while running/syscall)
  G* schedlink = nullptr;  // free lists
  // Entered its P's ring at the front (proc.cpp spawn_put); cleared by a push at the
  // tail. Relaxed: the owner reads it on the G at its ring's tail, which a thief may
  // have taken meanwhile.
  std::atomic<bool> queued_front{false};
  // nanotime() when a ready() displaced it, a hand-off's partner (`partner`), from
  // runnext into its P's ring, else 0: thieves leave such a G to its P for kHotNs
  // (proc.cpp, runq_steal()).
  std::atomic<std::int64_t> ring_since{0};
  bool partner = false;                 // readied by ready(g, true); read by whoever displaces it
  ParkKind park_kind = ParkKind::call;  // park protocol scratch, with park_fn and park_arg
  G* allg_next = nullptr;               // registry (never unlinked: Gs are recycled)
  Function fn;                          // the body; reset when it returns
  // Identity, written when a fiber starts and ends on this G, read by snapshots:
  // guarded by ident_lock (a spin word; never contended in practice).
  std::atomic<std::uint32_t> ident_lock{0};
  std::string name;
  std::source_location site;  // where go() was called
  // Park protocol scratch (switch.h park_with(); park_kind above): written by the
  // parking fiber, read by the post-switch step that commits its park.
  bool (*park_fn)(G*, void*) = nullptr;  // ParkKind::call
  void* park_arg = nullptr;
  // Profiling (labelset.h, profile.cpp). `labels`: this fiber's label set (one
  // reference), changed under ident_lock. `resumes`: bumped before every switch to this
  // G, so a walk of its saved stack from another thread can tell it was not resumed.
  std::atomic<LabelSet*> labels{nullptr};
  std::atomic<std::uint32_t> resumes{0};
  // Stack trimming (stack_trim.cpp): `trim` is 1 while sysmon drops pages below the
  // saved stack pointer (ready() waits for 0); `trimmed_at` (sysmon only) is the
  // `resumes` value of the last park that was trimmed.
  std::atomic<std::uint8_t> trim{0};
  std::uint32_t trimmed_at = ~0u;
};

// g_transition_ok() tells whether the diagram above has the transition from -> to.
constexpr bool g_transition_ok(GStatus from, GStatus to) {
  switch (to) {
    case GStatus::runnable:  // go() of a fresh or recycled G; yield; ready(); exit_blocking()
      return from == GStatus::idle || from == GStatus::dead || from == GStatus::running ||
             from == GStatus::waiting || from == GStatus::syscall;
    case GStatus::running:  // scheduled; back from a blocking call with a P
      return from == GStatus::runnable || from == GStatus::syscall;
    case GStatus::waiting:  // parked
    case GStatus::syscall:  // entered a blocking call
    case GStatus::dead:     // its function returned
      return from == GStatus::running;
    case GStatus::idle:
      return false;
  }
  return false;
}

// g_set_status() moves g to status `to`, stored with order `mo`. The only way a G's
// status changes. REQUIRES: the caller owns g (runs it, dequeued it, or won the right
// to ready it); the transition is in the diagram above.
inline void g_set_status(G* g, GStatus to, std::memory_order mo) {
  WEFT_ASSERT(g_transition_ok(g->status.load(std::memory_order_relaxed), to));
  g->status.store(to, mo);
}

// Default fiber name when go() is given none.
inline constexpr const char* kUnnamed = "";

}  // namespace weft::detail
