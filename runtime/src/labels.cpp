// labels.cpp: fiber labels (weft/labels.h); the storage is described in labelset.h.
#include "weft/labels.h"

#include <algorithm>
#include <functional>

#include "labelset.h"
#include "proc.h"
#include "systemstack.h"

namespace weft {
namespace detail {

const Labels kNoLabels;

namespace {

std::size_t hash_labels(const Labels& labels) {
  std::size_t h = 0x9E3779B97F4A7C15ULL;
  std::hash<std::string> hs;
  for (auto& [k, v] : labels) {
    h = (h ^ hs(k)) * 0x100000001B3ULL;
    h = (h ^ hs(v)) * 0x100000001B3ULL;
  }
  return h;
}

// merged() returns `base` with `add` applied in order (a later key overrides an earlier
// one), sorted by key.
Labels merged(const Labels& base, const Labels& add) {
  Labels out = base;
  for (auto& kv : add) {
    auto it = std::find_if(out.begin(), out.end(), [&](auto& o) { return o.first == kv.first; });
    if (it != out.end())
      it->second = kv.second;
    else
      out.push_back(kv);
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return out;
}

// swap_labels() installs `next` (a reference the caller gives up) as g's set and returns
// the previous one (a reference the caller now owns).
LabelSet* swap_labels(G* g, LabelSet* next) {
  spin_lock(g->ident_lock, LockRank::ident);
  LabelSet* prev = g->labels.exchange(next, std::memory_order_relaxed);
  spin_unlock(g->ident_lock);
  return prev;
}

}  // namespace

LabelSet* labelset_make(Labels labels) {
  if (labels.empty()) return nullptr;
  auto* s = new LabelSet;
  s->hash = hash_labels(labels);
  s->labels = std::move(labels);
  return s;
}

void labelset_unref(LabelSet* s) {
  if (s && s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
}

bool labelset_less(const LabelSet* a, const LabelSet* b) {
  if (a == b) return false;
  const std::size_t ha = a ? a->hash : 0, hb = b ? b->hash : 0;
  if (ha != hb) return ha < hb;
  return labelset_labels(a) < labelset_labels(b);
}

bool labelset_equal(const LabelSet* a, const LabelSet* b) {
  if (a == b) return true;
  if ((a ? a->hash : 0) != (b ? b->hash : 0)) return false;
  return labelset_labels(a) == labelset_labels(b);
}

LabelSet* labels_of(G* g) {
  spin_lock(g->ident_lock, LockRank::ident);
  LabelSet* s = g->labels.load(std::memory_order_relaxed);
  labelset_ref(s);
  spin_unlock(g->ident_lock);
  return s;
}

// Both skip the lock when there is nothing to change (no labels on either side, the
// common case): only g's creator or g itself writes g's set, so the relaxed load sees
// the last write, and a snapshot reading under the lock loses nothing.
void g_labels_inherit(G* g, G* parent) {
  LabelSet* s = parent ? parent->labels.load(std::memory_order_relaxed) : nullptr;
  if (!s && !g->labels.load(std::memory_order_relaxed)) return;
  labelset_ref(s);  // the parent is the caller: its set cannot change meanwhile
  labelset_unref(swap_labels(g, s));
}

void g_labels_drop(G* g) {
  if (!g->labels.load(std::memory_order_relaxed)) return;
  labelset_unref(swap_labels(g, nullptr));
}

}  // namespace detail

void with_labels(const Labels& labels, detail::Function fn) {
  detail::G* g = detail::getg();
  if (!g) {
    fn();
    return;
  }
  // Only this fiber changes its own set, so it reads it without the lock.
  detail::LabelSet* prev = nullptr;
  detail::systemstack([&] {
    detail::LabelSet* next = detail::labelset_make(
        detail::merged(detail::labelset_labels(g->labels.load(std::memory_order_relaxed)), labels));
    prev = detail::swap_labels(g, next);
  });
  // Restored when fn returns or throws (and whatever set_labels() did inside is undone,
  // as with Go's pprof.Do). g is this fiber, on whichever thread it resumes.
  struct Restore {
    detail::G* g;
    detail::LabelSet* prev;
    ~Restore() {
      detail::systemstack([this] { detail::labelset_unref(detail::swap_labels(g, prev)); });
    }
  } restore{g, prev};
  fn();
}

void set_labels(const Labels& labels) {
  detail::G* g = detail::getg();
  if (!g) return;
  detail::systemstack([&] {
    detail::LabelSet* next = detail::labelset_make(detail::merged({}, labels));
    detail::labelset_unref(detail::swap_labels(g, next));
  });
}

Labels labels() {
  Labels out;
  detail::G* g = detail::getg();
  if (!g) return out;
  detail::systemstack(
      [&] { out = detail::labelset_labels(g->labels.load(std::memory_order_relaxed)); });
  return out;
}

PreparedLabels::PreparedLabels(const Labels& labels) {
  detail::systemstack([&] { set_ = detail::labelset_make(detail::merged({}, labels)); });
}

PreparedLabels::PreparedLabels(const PreparedLabels& o) : set_(o.set_) {
  detail::labelset_ref(set_);
}

PreparedLabels& PreparedLabels::operator=(const PreparedLabels& o) {
  if (this != &o) {
    detail::labelset_ref(o.set_);
    detail::LabelSet* old = set_;
    set_ = o.set_;
    detail::systemstack([&] { detail::labelset_unref(old); });
  }
  return *this;
}

PreparedLabels::~PreparedLabels() {
  detail::systemstack([&] { detail::labelset_unref(set_); });
}

ScopedLabels::ScopedLabels(const PreparedLabels& labels) : g_(detail::getg()) {
  if (!g_) return;
  detail::labelset_ref(labels.set_);
  prev_ = detail::swap_labels(g_, labels.set_);
}

ScopedLabels::~ScopedLabels() {
  // g_ is this fiber (it may have moved threads meanwhile; its G has not changed).
  if (!g_) return;
  detail::LabelSet* mine = detail::swap_labels(g_, prev_);
  detail::systemstack([&] { detail::labelset_unref(mine); });
}

}  // namespace weft
