// weft/labels.h: fiber labels (Go's pprof labels).
//
// A fiber carries a small immutable set of key/value labels. Every CPU sample, block and
// mutex event and fiber dump taken while it runs is tagged with them, so a profile can
// be sliced per connection, channel or queue (`go tool pprof -tagfocus queue=orders`).
// Fibers started by a labelled fiber inherit its labels, as goroutines do.
//
//   weft::with_labels({{"queue", "orders"}}, [&] { serve_queue(q); });
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "weft/detail/function.h"

namespace weft {

namespace detail {
struct LabelSet;
struct G;
}  // namespace detail

using Labels = std::vector<std::pair<std::string, std::string>>;

// with_labels() runs fn on the calling fiber with `labels` added to (and overriding keys
// of) its current labels, and restores the previous set when fn returns or throws.
void with_labels(const Labels& labels, detail::Function fn);

// set_labels() replaces the calling fiber's labels for the rest of its life (Go's
// pprof.SetGoroutineLabels); a fiber that labels itself once at the top uses this.
void set_labels(const Labels& labels);

// labels() returns the calling fiber's labels (empty outside a fiber).
Labels labels();

// PreparedLabels: a label set built once, for hot paths that attribute work to an object
// rather than to the fiber doing it (weftd labels the work done for a queue with the
// queue's name, whichever connection's fiber does it). Copies share the set.
class PreparedLabels {
 public:
  PreparedLabels() = default;
  explicit PreparedLabels(const Labels& labels);
  PreparedLabels(const PreparedLabels& o);
  PreparedLabels& operator=(const PreparedLabels& o);
  ~PreparedLabels();

 private:
  friend class ScopedLabels;
  detail::LabelSet* set_ = nullptr;
};

// ScopedLabels replaces the calling fiber's labels with `labels` (not merged) until it
// is destroyed: two reference-count updates and no allocation. Outside a fiber, a no-op.
class ScopedLabels {
 public:
  explicit ScopedLabels(const PreparedLabels& labels);
  ~ScopedLabels();
  ScopedLabels(const ScopedLabels&) = delete;
  ScopedLabels& operator=(const ScopedLabels&) = delete;

 private:
  detail::G* g_;
  detail::LabelSet* prev_ = nullptr;
};

}  // namespace weft
