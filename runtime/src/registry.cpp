// registry.cpp: see registry.h.
#include "registry.h"

#include <atomic>

#include "labelset.h"
#include "proc.h"
#include "spinlock.h"

namespace weft::detail {

// Defined in introspect.cpp: freezes the counters before the Ps go away.
void stats_freeze(std::uint64_t leaked);

namespace {
SpinLock g_lock{LockRank::registry};
RegistryList g_list;
std::atomic<std::int64_t> g_live{0};
}  // namespace

void registry_lock() { g_lock.lock(); }
void registry_unlock() { g_lock.unlock(); }
RegistryList& registry_list_locked() { return g_list; }

void registry_add(G* g) {
  g_lock.lock();
  g->allg_next = g_list.head;
  g_list.head = g;
  g_lock.unlock();
}

void registry_live_add(std::int64_t delta) { g_live.fetch_add(delta, std::memory_order_relaxed); }
std::int64_t registry_live() {
  std::int64_t n = g_live.load(std::memory_order_relaxed);
  if (sched)
    for (P* p : sched->allp) n += p->n_live.load(std::memory_order_relaxed);
  return n;
}

void registry_reset() {
  g_lock.lock();
  g_list.head = nullptr;
  g_lock.unlock();
  g_live.store(0);
}

void registry_shutdown() {
  stats_freeze(static_cast<std::uint64_t>(registry_live()));
  g_lock.lock();
  G* g = g_list.head;
  g_list.head = nullptr;
  g_lock.unlock();
  while (g) {
    G* next = g->allg_next;
#if WEFT_SPLIT_STACK
    split_stack_release(g->ctx.ss);
#endif
    context_destroy(g->ctx);
    stack_free(g->stack);
    // The body of a fiber that never finished is dropped without running destructors
    // on its stack (as Go's exit does); its captures are destroyed here.
    g->fn.reset();
    g_labels_drop(g);
    delete g;
    g = next;
  }
  g_live.store(0);
}

}  // namespace weft::detail
