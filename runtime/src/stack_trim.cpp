// stack_trim.cpp: giving back the stack pages a long-parked fiber no longer uses.
//
// A guarded stack is committed lazily by the kernel, one page at a time, and stays
// committed: a fiber that once went deep (a handshake, a parse, a burst of work) keeps
// its high-water mark of pages while it sits parked for hours. Go shrinks such stacks
// at GC time (shrinkstack: copy to a smaller stack). weft's stacks cannot move, but
// everything a parked fiber owns lies *above* the stack pointer that jump_fcontext
// saved (G::ctx.fctx); the pages wholly below it hold only dead frames. sysmon gives
// those pages back with MADV_DONTNEED once the fiber has been waiting for
// Options::stack_trim_after (default 1 s): an idle connection's reader goes back to the
// one page it sits in.
//
// Nothing in the live part moves or changes, so wakers that hold pointers into the
// parked stack (waiter nodes, channel slots, timers) are unaffected. The one race is
// the fiber itself being resumed while its pages are dropped: it would push frames
// into memory the kernel then zeroes. G::trim is a Dekker pair with G::status:
//   trimmer: trim = 1; FENCE; status == waiting? madvise : skip; trim = 0
//   ready:   status = runnable; FENCE; wait while trim == 1
// Either the trimmer sees the G no longer waiting and backs off, or ready sees the
// trim in progress and waits the few microseconds it takes; a G is resumed only after
// ready. Each park is trimmed at most once (G::trimmed_at remembers the resume count).
//
// The fences are asymmetric (asym_fence.h): ready() runs on every hand-off, a trim
// pass at most once a second, so the pass sets the flags of a batch of Gs and pays for
// one membarrier(), and ready()'s FENCE is the compiler's ordering only -- a locked
// instruction less per hand-off (measured: docs/benchmarks.md, seventh session).
//
// Segmented stacks are not trimmed: their first segment is a 2 KiB piece of a shared
// slab, and libgcc owns the rest.
#include "stack_trim.h"

#include <sys/mman.h>
#include <unistd.h>

#include "asym_fence.h"
#include "proc.h"
#include "registry.h"

namespace weft::detail {

#if WEFT_SPLIT_STACK
void stack_trim_pass(std::int64_t) {}
#else

namespace {

// trim_one() gives back the pages below g's saved stack pointer, if g is still waiting.
// REQUIRES: g->trim set and fenced (asym_fence_heavy()). Returns bytes released.
std::size_t trim_one(G* g) {
  static const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  std::size_t released = 0;
  const std::uint32_t resumes = g->resumes.load(std::memory_order_relaxed);
  // Acquire: `waiting` was stored (release) after the switch saved g's stack pointer.
  if (g->status.load(std::memory_order_acquire) == GStatus::waiting && g->ctx.fctx) {
    const auto lo = reinterpret_cast<std::uintptr_t>(g->stack.lo);
    const auto sp = reinterpret_cast<std::uintptr_t>(g->ctx.fctx);
    const std::uintptr_t from = (lo + page - 1) & ~(page - 1);
    const std::uintptr_t to = sp & ~(page - 1);
    if (sp > lo && sp <= lo + g->stack.size && to > from &&
        madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED) == 0)
      released = to - from;
    g->trimmed_at = resumes;
  }
  g->trim.store(0, std::memory_order_release);
  return released;
}

// A pass flags, fences and trims this many Gs at a time: one membarrier per batch,
// and a ready() that finds its G flagged waits for at most a batch of madvise calls.
constexpr std::size_t kTrimBatch = 32;

}  // namespace

void stack_trim_pass(std::int64_t now) {
  const std::int64_t after = sched->stack_trim_after;
  if (after <= 0) return;
  // Gs are never freed while the runtime runs and the list is only ever prepended to,
  // so the walk needs the lock only to read its head.
  registry_lock();
  G* head = registry_list_locked().head;
  registry_unlock();
  std::uint64_t bytes = 0, trims = 0;
  G* batch[kTrimBatch];
  std::size_t n = 0;
  auto flush = [&] {
    asym_fence_heavy();
    for (std::size_t i = 0; i < n; i++) {
      const std::size_t b = trim_one(batch[i]);
      bytes += b;
      trims += b != 0;
    }
    n = 0;
  };
  for (G* g = head; g; g = g->allg_next) {
    if (g->status.load(std::memory_order_relaxed) != GStatus::waiting) continue;
    if (!g->stack.base || g->trimmed_at == g->resumes.load(std::memory_order_relaxed)) continue;
    const std::int64_t since = g->status_since.load(std::memory_order_relaxed);
    if (since == 0 || now - since < after) continue;
    g->trim.store(1, std::memory_order_relaxed);
    batch[n++] = g;
    if (n == kTrimBatch) flush();
  }
  if (n) flush();
  if (bytes) {
    sched->n_stack_trims.fetch_add(trims, std::memory_order_relaxed);
    sched->n_stack_trimmed.fetch_add(bytes, std::memory_order_relaxed);
  }
}

#endif

}  // namespace weft::detail
