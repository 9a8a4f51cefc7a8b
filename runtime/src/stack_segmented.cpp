// stack_segmented.cpp: segmented stacks on gcc's -fsplit-stack (WEFT_SPLIT_STACK).
//
// How a split-stack prologue works (x86-64): each function compiled with -fsplit-stack
// starts with `cmp %fs:0x70, %rsp` (or `lea -frame(%rsp)` first, for large frames) and
// calls __morestack when the frame would cross the guard stored in the TCB. libgcc's
// __morestack then maps a new segment (or reuses the next one in the thread's segment
// list), copies the arguments, runs the rest of the function there and, when it
// returns, switches back. libgcc keeps the state in the TCB and a few thread-locals;
// __splitstack_getcontext/setcontext save and restore all of it as a 10-word context,
// which context_switch() does around every jump (context.cpp).
//
// weft's first segment. libgcc's own __splitstack_makecontext maps its first segment
// (>= 16 KiB); weft instead carves 2 KiB pieces from 1 MiB slabs, so that a parked fiber
// costs ~2 KiB of RSS (Go's 2 KiB goroutine stack). The context is set up so that
// libgcc believes the piece is the fiber's "initial stack":
//   MORESTACK_SEGMENTS = segments kept from this G's previous life (or none),
//   CURRENT_SEGMENT    = none (we are on the initial stack),
//   STACK_GUARD        = lo + kReserve,
//   INITIAL_SP         = lo + size,
//   INITIAL_SP_LEN     = size - kReserve + BACKOFF,
// where BACKOFF (0xe00 in GCC 12's morestack.S) is what libgcc subtracts again when it
// recomputes the guard on returning to the initial stack -- so it recomputes ours.
// kReserve bytes stay below the guard: small-frame prologues check %rsp without their
// frame (< 256 B), leaf functions use the 128-byte red zone, and __morestack itself and
// the no_split_stack switch code (context.cpp, leaf.h calls) run there.
//
// Growth beyond the piece goes to libgcc segments (mapped with mmap). They stay with
// the G when it dies and are reused by the next fiber on that G (the context is re-made
// with the old segment list), so a fiber pool that recurses deeply pays the mapping
// once; Gs spilled to the global free list and Gs freed at shutdown release them.
//
// The hot split: a call at a segment boundary in a loop crosses into the next segment
// on every call. libgcc does not unmap a segment when its frame returns -- the segment
// stays in the list and the next crossing reuses it -- so a hot split costs a
// __morestack round trip (tens of ns), never an mmap/munmap pair, and at most one
// segment per boundary exists per fiber.
//
// Non-split code. Calls from split code into libc/libstdc++ are rewritten by gold to
// always run with ~1 MiB available (__morestack_non_split), i.e. on a large libgcc
// segment. The runtime keeps libc off fiber stacks altogether (systemstack.h, leaf.h,
// and operator new/delete replacements in alloc_split.cpp), so a fiber that only uses
// the runtime never maps a segment of its own; user code that calls libc does, once.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "ranked_mutex.h"
#include "stack.h"
#include "trace.h"

#if WEFT_SPLIT_STACK
extern "C" {
void __splitstack_releasecontext(void* context[10]);
void __splitstack_block_signals_context(void* context[10], int* new_value, int* old_value);
}

namespace weft::detail {

namespace {

constexpr std::size_t kPiece = 2048;     // first segment
constexpr std::size_t kReserve = 512;    // below the guard
constexpr std::size_t kBackoff = 0xe00;  // GCC 12 x86-64 morestack.S
constexpr std::size_t kSlab = 1 << 20;   // pieces per mmap: 512
enum {
  kSegments,
  kCurrentSegment,
  kCurrentStack,
  kGuard,
  kInitialSp,
  kInitialSpLen,
  kBlockSignals
};

struct Slabs {
  RankedMutex mu{LockRank::stack_pool};
  std::vector<void*> slabs;
  std::vector<void*> free;
};
Slabs& slabs() {
  static Slabs* s = new Slabs;
  return *s;
}

}  // namespace

void stack_init(std::size_t) {}
const char* stack_kind() { return "segmented"; }
bool stack_guard_regions() { return false; }

Stack stack_alloc() {
  Slabs& s = slabs();
  std::lock_guard lock(s.mu);
  if (s.free.empty()) {
    void* slab = mmap(nullptr, kSlab, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (slab == MAP_FAILED) {
      static const char msg[] = "fatal error: weft: cannot map a stack slab\n";
      if (write(2, msg, sizeof msg - 1) < 0) {
      }
      _exit(2);
    }
    madvise(slab, kSlab, MADV_NOHUGEPAGE);
    s.slabs.push_back(slab);
    for (std::size_t off = kSlab; off >= kPiece; off -= kPiece)
      s.free.push_back(static_cast<char*>(slab) + off - kPiece);
  }
  void* piece = s.free.back();
  s.free.pop_back();
  Stack st;
  st.lo = piece;
  st.size = kPiece;
  st.base = piece;
  st.reserved = kPiece;
  return st;
}

void stack_free(Stack st) {
  if (!st.base) return;
  Slabs& s = slabs();
  std::lock_guard lock(s.mu);
  s.free.push_back(st.base);
}

void stack_release_all() {
  Slabs& s = slabs();
  std::lock_guard lock(s.mu);
  for (void* slab : s.slabs) munmap(slab, kSlab);
  if (!s.slabs.empty()) trace_event(EventKind::stack_free, 0, s.slabs.size());
  s.slabs.clear();
  s.free.clear();
}

bool stack_guard_contains(const Stack&, const void*) { return false; }

void split_stack_make(void* ss[10], void* lo, std::size_t size) {
  void* keep = ss[kSegments];  // segments kept from the G's previous fiber
  std::memset(ss, 0, 10 * sizeof(void*));
  ss[kSegments] = keep;
  ss[kGuard] = static_cast<char*>(lo) + kReserve;
  ss[kInitialSp] = static_cast<char*>(lo) + size;
  ss[kInitialSpLen] = reinterpret_cast<void*>(size - kReserve + kBackoff);
  // Signals stay unblocked while __morestack switches segments: every handler must
  // run on an alternate stack (SA_ONSTACK), see signal.cpp.
  int no = 0;
  __splitstack_block_signals_context(ss, &no, nullptr);
}

void split_stack_release(void* ss[10]) {
  if (ss[kSegments]) {
    __splitstack_releasecontext(ss);  // unmaps the segments the fiber grew
    trace_event(EventKind::stack_free, 0, 1);
  }
  std::memset(ss, 0, 10 * sizeof(void*));
}

bool split_stack_has_segments(void* const ss[10]) { return ss[kSegments] != nullptr; }

}  // namespace weft::detail
#endif
