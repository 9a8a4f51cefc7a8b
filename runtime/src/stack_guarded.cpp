// stack_guarded.cpp: the guarded allocator (WEFT_STACK=guarded; see stack.h).
//
// Guarded layout (one mmap per stack, addresses grow up):
//
//   base                      base+page                                base+reserved
//   | guard page (PROT_NONE)  | usable stack, committed lazily ...  <- sp starts here |
//
// MAP_NORESERVE + lazy commit: a 256 KiB stack that only ever touches 3 pages costs 3
// pages of RSS. MADV_NOHUGEPAGE keeps THP from turning that into 2 MiB.
//
// vm.max_map_count: the guard page splits each stack into two VMAs, and Linux caps a
// process at vm.max_map_count VMAs (65530 by default), i.e. ~32k guarded stacks. Past a
// budget of (max_map_count - 8192) / 2 stacks the allocator warns once and hands out
// stacks without a guard page whose bottom word is checked (still zero) each time the
// fiber switches out (proc.cpp), so an overflow is still reported, if later. Raise
// vm.max_map_count, or use segmented stacks, for a million guarded-quality fibers.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "spinlock.h"
#include "stack.h"
#include "trace.h"

#if !WEFT_SPLIT_STACK
namespace weft::detail {

namespace {

constexpr std::size_t kPoolHot = 1024;   // pooled stacks kept with their memory
constexpr std::size_t kPoolCold = 8192;  // pooled stacks kept as address space only

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
  std::mutex mu;
  std::vector<Stack> hot, cold;
};
Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: stacks may be freed during exit
  return *p;
}

std::size_t g_guarded_size = 256 * 1024;
std::atomic<long> g_guarded_live{0};
long g_guard_budget = -1;
std::atomic<bool> g_warned{false};

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

Stack guarded_new() {
  const std::size_t page = page_size();
  Stack s;
  s.reserved = g_guarded_size + page;
  s.base = mmap(nullptr, s.reserved, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (s.base == MAP_FAILED) die_mmap("mmap", s.reserved);
  madvise(s.base, s.reserved, MADV_NOHUGEPAGE);
  s.lo = static_cast<char*>(s.base) + page;
  s.size = g_guarded_size;
  if (g_guarded_live.fetch_add(1, std::memory_order_relaxed) < g_guard_budget) {
    if (mprotect(s.base, page, PROT_NONE) != 0) die_mmap("mprotect", s.reserved);
    s.guarded = true;
  } else {
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
  }
  return s;
}

void guarded_delete(Stack& s) {
  if (s.guarded) g_guarded_live.fetch_sub(1, std::memory_order_relaxed);
  munmap(s.base, s.reserved);
}

}  // namespace

void stack_init(std::size_t guarded_size) {
  const std::size_t page = page_size();
  g_guarded_size = (guarded_size + page - 1) / page * page;
  if (g_guard_budget < 0) g_guard_budget = (read_max_map_count() - 8192) / 2;
}

const char* stack_kind() { return "guarded"; }

Stack stack_alloc() {
  {
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    for (auto* list : {&p.hot, &p.cold}) {
      while (!list->empty()) {
        Stack s = list->back();
        list->pop_back();
        if (s.size == g_guarded_size) return s;
        guarded_delete(s);  // left over from a runtime with another size
        trace_event(EventKind::stack_free, 0, 1);
      }
    }
  }
  return guarded_new();
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
