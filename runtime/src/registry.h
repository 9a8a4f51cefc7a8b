// registry.h: the list of every G ever allocated (Go's allgs), for dumps and profiles.
//
// Gs are recycled, never freed while a runtime runs, so the list only grows (by the
// high-water mark of concurrently live fibers) and a snapshot can walk it without
// racing against frees: it reads each G's status and skips idle and dead ones. The
// lock (rank registry) is taken only when a brand new G is allocated and by snapshots;
// go() on a recycled G never touches it.
#pragma once

#include <cstdint>

#include "g.h"

namespace weft::detail {

void registry_add(G* g);
void registry_live_add(std::int64_t delta);
std::int64_t registry_live();
// registry_reset() prepares for a new runtime; registry_shutdown() records the
// fibers still alive, snapshots the final stats, and frees every G and its stack.
void registry_reset();
void registry_shutdown();

// Walks every allocated G under the registry lock.
template <class F>
void registry_each(F&& f);

struct RegistryList {
  G* head = nullptr;
};
RegistryList& registry_list_locked();  // REQUIRES: registry_lock() held
void registry_lock();
void registry_unlock();

template <class F>
void registry_each(F&& f) {
  registry_lock();
  for (G* g = registry_list_locked().head; g; g = g->allg_next) f(g);
  registry_unlock();
}

}  // namespace weft::detail
