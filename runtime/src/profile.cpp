// profile.cpp: aggregation by (stack, labels) (profagg.h) and the fiber-stack snapshot
// (weft::profile::fiber_stacks).
//
// fiber_stacks() walks a fiber that is switched out from the registers jump_fcontext
// saved on its stack (stackwalk.cpp, walk_saved). Nothing stops that fiber from being
// resumed on another thread while we read, so the walk is a seqlock read: G::resumes is
// bumped (and fenced) before every switch *to* a G (execute_prep), and a walk counts only
// if the G's resumes and status are the same after it as before; a torn walk is retried
// and, failing that, the fiber is reported without a stack. The reads themselves cannot
// fault: they stay inside the G's stack (which lives as long as the G, i.e. the runtime)
// or, for split-stack segments that a resumed fiber could release, go through
// process_vm_readv.
#include "weft/profile.h"

#include <atomic>

#include "labelset.h"
#include "proc.h"
#include "profagg.h"
#include "registry.h"
#include "stackwalk.h"
#include "systemstack.h"

namespace weft {
namespace detail {

// introspect.cpp
bool fiber_info(G* g, FiberInfo* out);

void StackAgg::add(const std::uintptr_t* pcs, int n, LabelSet* labels, std::int64_t count,
                   std::int64_t value, FiberId fiber) {
  Key key{std::vector<std::uintptr_t>(pcs, pcs + n), labels};
  auto it = map_.find(key);
  if (it == map_.end()) {
    labelset_ref(labels);
    it = map_.emplace(std::move(key), Value{0, 0, fiber}).first;
  }
  it->second.count += count;
  it->second.value += value;
}

std::vector<profile::Sample> StackAgg::samples() const {
  std::vector<profile::Sample> out;
  out.reserve(map_.size());
  for (auto& [k, v] : map_)
    out.push_back(profile::Sample{k.pcs, labelset_labels(k.labels), v.fiber, v.count, v.value});
  return out;
}

void StackAgg::clear() {
  for (auto& [k, v] : map_) labelset_unref(k.labels);
  map_.clear();
}

}  // namespace detail

namespace profile {

std::vector<FiberStack> fiber_stacks() {
  std::vector<FiberStack> out;
  detail::G* self = detail::getg();
  const auto self_fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  detail::systemstack([&] {
    if (!detail::sched) return;
    // Gs are never freed while the runtime runs: the pointers outlive the lock.
    std::vector<detail::G*> gs;
    detail::registry_each([&](detail::G* g) { gs.push_back(g); });
    out.reserve(gs.size());
    std::uintptr_t pcs[detail::kMaxFrames];
    for (detail::G* g : gs) {
      FiberStack fs;
      int n = 0;
      bool live = false;
      for (int attempt = 0; attempt < 4; attempt++) {
        const std::uint32_t c0 = g->resumes.load(std::memory_order_acquire);
        if (!detail::fiber_info(g, &fs.info)) break;  // idle or dead
        live = true;
        n = 0;
        if (g == self) {
          n = detail::walk_current(g, self_fp, pcs, detail::kMaxFrames);
          break;
        }
        if (fs.info.state != FiberState::waiting && fs.info.state != FiberState::runnable)
          break;  // running elsewhere or in a blocking call: its stack is live
        const detail::GStatus st = g->status.load(std::memory_order_acquire);
        n = detail::walk_saved(g, pcs, detail::kMaxFrames);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (g->resumes.load(std::memory_order_relaxed) == c0 &&
            g->status.load(std::memory_order_relaxed) == st)
          break;
        n = 0;  // resumed under us: the walk may be torn
      }
      if (!live) continue;
      fs.pcs.assign(pcs, pcs + n);
      detail::LabelSet* ls = detail::labels_of(g);
      fs.labels = detail::labelset_labels(ls);
      detail::labelset_unref(ls);
      out.push_back(std::move(fs));
    }
  });
  return out;
}

}  // namespace profile
}  // namespace weft
