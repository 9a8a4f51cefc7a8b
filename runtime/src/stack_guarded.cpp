// stack_guarded.cpp: the guarded allocator (WEFT_STACK=guarded; see stack.h).
//
// Guarded layout (addresses grow up):
//
//   base                      base+page                                base+reserved
//   | guard page              | usable stack, committed lazily ...  <- sp starts here |
//
// MAP_NORESERVE + lazy commit: a 256 KiB stack that only ever touches 3 pages costs 3
// pages of RSS. MADV_NOHUGEPAGE keeps THP from turning that into 2 MiB.
//
// Chunks: stacks are carved from chunks of kChunkStacks adjacent stacks mapped by one
// mmap. mmap and mprotect take the process's mmap lock for writing, which also stalls
// every page fault of the other threads: with a stack mapped per fiber, a spawn-heavy
// program on two Ps spent most of its time queued on that lock (perf: rwsem slow paths
// under mmap and mprotect). A chunk takes it once per kChunkStacks stacks.
//
// Guard pages: where the kernel has them (Linux 6.13+), MADV_GUARD_INSTALL marks a
// stack's lowest page so that any access faults; it takes the mmap lock only for reading
// and does not split the mapping, so a chunk stays one VMA however many guards it holds.
// Elsewhere the guard is mprotect(PROT_NONE), which splits the mapping around it.
//
// vm.max_map_count (65530 by default) caps a process's VMAs. With mprotect guards each
// stack costs two, i.e. ~28k guarded stacks. Past a budget of (max_map_count - 8192) / 2
// such stacks the allocator warns once and hands out stacks without a guard page whose
// bottom word is checked (still zero) each time the fiber switches out (proc.cpp), so an
// overflow is still reported, if later. Guard regions cost no VMA: no budget applies.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "ranked_mutex.h"
#include "spinlock.h"
#include "stack.h"
#include "trace.h"

#if !WEFT_SPLIT_STACK
namespace weft::detail {

namespace {

constexpr std::size_t kPoolHot = 1024;    // pooled stacks kept with their memory
constexpr std::size_t kPoolCold = 8192;   // pooled stacks kept as address space only
constexpr std::size_t kChunkStacks = 64;  // stacks mapped per mmap

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; Debian 12's headers predate it
#endif

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

long read_max_map_count() {
  long v = 65530;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    if (std::fscanf(f, "%ld", &v) != 1) v = 65530;
    std::fclose(f);
  }
  return v;
}

struct Pool {
  RankedMutex mu{LockRank::stack_pool};
  std::vector<Stack> hot, cold;
  char* chunk_next = nullptr;  // the rest of the newest chunk, not yet handed out
  std::size_t chunk_left = 0;
};
Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: stacks may be freed during exit
  return *p;
}

std::size_t g_guarded_size = 256 * 1024;
std::atomic<long> g_guarded_live{0};
long g_guard_budget = -1;
std::atomic<bool> g_warned{false};
std::atomic<bool> g_guard_regions{true};  // MADV_GUARD_INSTALL works (until EINVAL)

[[noreturn]] void die_mmap(const char* what, std::size_t bytes) {
  char msg[256];
  int n = std::snprintf(msg, sizeof msg,
                        "fatal error: weft: %s of a %zu-byte fiber stack failed: %s "
                        "(check ulimit -v and vm.max_map_count)\n",
                        what, bytes, std::strerror(errno));
  if (write(2, msg, static_cast<std::size_t>(n)) < 0) {
  }
  std::_Exit(2);
}

// guarded_carve() takes the next stack's address range from the current chunk, mapping
// a new chunk when it is used up. REQUIRES: p.mu held.
char* guarded_carve(Pool& p, std::size_t reserved) {
  if (p.chunk_left == 0) {
    void* chunk = mmap(nullptr, reserved * kChunkStacks, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (chunk == MAP_FAILED) die_mmap("mmap", reserved * kChunkStacks);
    madvise(chunk, reserved * kChunkStacks, MADV_NOHUGEPAGE);
    p.chunk_next = static_cast<char*>(chunk);
    p.chunk_left = kChunkStacks;
  }
  char* base = p.chunk_next;
  p.chunk_next += reserved;
  p.chunk_left--;
  return base;
}

// guard() makes s's lowest page fault on any access. False when neither way is possible
// (the mprotect budget is spent).
bool guard(Stack& s, std::size_t page) {
  if (g_guard_regions.load(std::memory_order_relaxed)) {
    if (madvise(s.base, page, MADV_GUARD_INSTALL) == 0) return true;
    if (errno != EINVAL) die_mmap("madvise(MADV_GUARD_INSTALL)", s.reserved);
    g_guard_regions.store(false, std::memory_order_relaxed);  // an older kernel
  }
  if (g_guarded_live.fetch_add(1, std::memory_order_relaxed) < g_guard_budget) {
    if (mprotect(s.base, page, PROT_NONE) != 0) die_mmap("mprotect", s.reserved);
    s.counted = true;
    return true;
  }
  g_guarded_live.fetch_sub(1, std::memory_order_relaxed);
  if (!g_warned.exchange(true)) {
    char msg[256];
    int n = std::snprintf(msg, sizeof msg,
                          "weft: warning: vm.max_map_count allows ~%ld guarded stacks; "
                          "further fiber stacks are checked at switches instead of guarded\n",
                          g_guard_budget);
    if (write(2, msg, static_cast<std::size_t>(n)) < 0) {
    }
  }
  return false;
}

// guarded_new() makes a stack from fresh address space. REQUIRES: p.mu held through
// `lock`, which it releases before the guard's system call (and does not retake).
Stack guarded_new(Pool& p, std::unique_lock<RankedMutex>& lock) {
  const std::size_t page = page_size();
  Stack s;
  s.reserved = g_guarded_size + page;
  s.base = guarded_carve(p, s.reserved);
  lock.unlock();
  s.lo = static_cast<char*>(s.base) + page;
  s.size = g_guarded_size;
  s.guarded = guard(s, page);
  return s;
}

void guarded_delete(Stack& s) {
  if (s.counted) g_guarded_live.fetch_sub(1, std::memory_order_relaxed);
  munmap(s.base, s.reserved);
}

// chunk_drop() unmaps what is left of the current chunk. REQUIRES: p.mu held.
void chunk_drop(Pool& p) {
  if (p.chunk_left) munmap(p.chunk_next, p.chunk_left * (g_guarded_size + page_size()));
  p.chunk_next = nullptr;
  p.chunk_left = 0;
}

}  // namespace

void stack_init(std::size_t guarded_size) {
  const std::size_t page = page_size();
  const std::size_t size = (guarded_size + page - 1) / page * page;
  if (size != g_guarded_size) {
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    chunk_drop(p);  // carved for the old size
    g_guarded_size = size;
  }
  if (g_guard_budget < 0) g_guard_budget = (read_max_map_count() - 8192) / 2;
}

const char* stack_kind() { return "guarded"; }
bool stack_guard_regions() { return g_guard_regions.load(std::memory_order_relaxed); }

Stack stack_alloc() {
  Pool& p = pool();
  std::unique_lock lock(p.mu);
  for (auto* list : {&p.hot, &p.cold}) {
    while (!list->empty()) {
      Stack s = list->back();
      list->pop_back();
      if (s.size == g_guarded_size) return s;
      guarded_delete(s);  // left over from a runtime with another size
      trace_event(EventKind::stack_free, 0, 1);
    }
  }
  return guarded_new(p, lock);
}

void stack_free(Stack s) {
  if (!s.base) return;
  Pool& p = pool();
  std::unique_lock lock(p.mu);
  if (p.hot.size() < kPoolHot) {
    p.hot.push_back(s);
    return;
  }
  if (p.cold.size() < kPoolCold) {
    p.cold.push_back(s);
    lock.unlock();
    // Keep the address space (and the guard page), give the memory back.
    madvise(s.lo, s.size, MADV_DONTNEED);
    trace_event(EventKind::stack_free, 0, 1);
    return;
  }
  lock.unlock();
  guarded_delete(s);
  trace_event(EventKind::stack_free, 0, 1);
}

void stack_release_all() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  std::uint64_t n = 0;
  for (auto* list : {&p.hot, &p.cold}) {
    for (Stack& s : *list) guarded_delete(s);
    n += list->size();
    list->clear();
  }
  chunk_drop(p);
  if (n) trace_event(EventKind::stack_free, 0, n);
}

bool stack_guard_contains(const Stack& s, const void* addr) {
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  auto base = reinterpret_cast<std::uintptr_t>(s.base);
  auto lo = reinterpret_cast<std::uintptr_t>(s.lo);
  // The guard page, and a little below it: a large frame can skip past the guard.
  return s.base && a < lo && a + 64 * 1024 >= base;
}

}  // namespace weft::detail
#endif
