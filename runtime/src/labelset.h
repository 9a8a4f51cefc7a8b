// labelset.h: a fiber's labels (weft/labels.h) as the runtime stores them.
//
// A LabelSet is immutable and intrusively reference counted, so that the SIGPROF handler
// can tag a sample with the interrupted fiber's labels by one atomic increment -- no
// allocation, no lock, no copy. nullptr is the empty set.
//
// Who holds references:
//   - G::labels: the fiber's current set. Changed only by the fiber itself (with_labels,
//     set_labels), by newproc (a fresh G inherits its creator's) and by gdestroy (a dead
//     G drops it), always under G::ident_lock, so a snapshot of *another* fiber
//     (fiber_stacks) takes its reference under that lock. The SIGPROF handler reads the
//     labels of the fiber running on its own thread without the lock: that fiber is
//     interrupted, so its pointer cannot change (or its reference drop) under the handler.
//   - CPU sample rings, the block/mutex tables and aggregation maps (one per entry).
// The last unref deletes the set, never from a signal handler (the handler only adds).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "weft/labels.h"

namespace weft::detail {

struct G;

struct LabelSet {
  std::atomic<std::uint32_t> refs{1};
  std::size_t hash = 0;
  Labels labels;  // sorted by key, keys unique
};

// labelset_make() returns a new set (one reference) of `labels`, which must be sorted by
// key with unique keys; nullptr if empty. REQUIRES: on a system stack (allocates).
LabelSet* labelset_make(Labels labels);

// One relaxed increment (the SIGPROF handler does the same with a builtin: cpuprof.cpp).
__attribute__((always_inline)) inline void labelset_ref(LabelSet* s) {
  if (s) s->refs.fetch_add(1, std::memory_order_relaxed);
}
// labelset_unref() drops one reference; the last deletes. REQUIRES: on a system stack.
void labelset_unref(LabelSet* s);

// Content order (pointer identity does not matter): aggregation keys by (stack, labels).
bool labelset_less(const LabelSet* a, const LabelSet* b);
bool labelset_equal(const LabelSet* a, const LabelSet* b);
extern const Labels kNoLabels;
inline const Labels& labelset_labels(const LabelSet* s) { return s ? s->labels : kNoLabels; }

// labels_of() returns a reference to g's current set (nullptr if none), taken under g's
// ident_lock: safe for any G, running anywhere. The caller unrefs it.
LabelSet* labels_of(G* g);
// g_labels_inherit() gives a fresh g the labels of the fiber creating it (`parent`, may be
// nullptr). g_labels_drop() releases a dead g's. REQUIRES: on a system stack.
void g_labels_inherit(G* g, G* parent);
void g_labels_drop(G* g);

}  // namespace weft::detail
