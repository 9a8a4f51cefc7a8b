// runtime.cpp: the public entry points of weft/runtime.h.
#include "weft/runtime.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "leaf.h"
#include "proc.h"

#if WEFT_SPLIT_STACK
extern "C" void __splitstack_getcontext(void* context[10]);
#endif

namespace weft {

int run(detail::Function main, Options opts) { return detail::run_runtime(std::move(main), opts); }

FiberId go(detail::Function fn, std::source_location site) noexcept {
  std::string none;
  return detail::newproc(fn, none, site);
}

FiberId go(std::string name, detail::Function fn, std::source_location site) noexcept {
  return detail::newproc(fn, name, site);
}

void yield() {
  detail::M* m = detail::getm();
  if (!m || !m->curg) {
    detail::leaf_sched_yield();
    return;
  }
  if (m->p && m->p->preempt.load(std::memory_order_relaxed)) {
    detail::check_preempt();  // counts as honouring the request
    return;
  }
  detail::gosched(m, false);
}

void maybe_yield() { detail::check_preempt(); }

FiberId this_fiber_id() {
  detail::G* g = detail::getg();
  return g ? g->id : 0;
}

int procs() { return detail::sched ? detail::sched->nprocs : 0; }

bool in_fiber() { return detail::getg() != nullptr; }

namespace detail {
void enter_blocking() { enter_blocking_impl(); }
void exit_blocking() { exit_blocking_impl(); }

long TEST_m_tid() {
  M* m = getm();
  return m ? m->tid : 0;
}
const char* TEST_stack_kind() { return stack_kind(); }

std::uint64_t TEST_runq_race(int items, int thieves) {
  // The ring never dereferences its entries: item i travels as the fake G* (i + 1) * 8.
  auto runq = std::make_unique<Runq>();
  Runq& q = *runq;
  std::vector<std::atomic<std::uint32_t>> taken(static_cast<std::size_t>(items));
  std::vector<std::atomic<bool>> in_front(static_cast<std::size_t>(items));
  auto id = [](G* g) { return reinterpret_cast<std::uintptr_t>(g) / 8 - 1; };
  auto take = [&](G* g) { taken[id(g)].fetch_add(1, std::memory_order_relaxed); };
  auto front = [&](G* g) { return in_front[id(g)].load(std::memory_order_relaxed); };
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < thieves; t++)
    ts.emplace_back([&] {
      G* out[Runq::kSize / 2];
      while (!done.load(std::memory_order_acquire))
        for (std::uint32_t i = 0, n = q.grab(out); i < n; i++) take(out[i]);
    });
  std::uint64_t rng = 0x2545F4914F6CDD1DULL;
  for (int next = 0; next < items;) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    G* g = reinterpret_cast<G*>((static_cast<std::uintptr_t>(next) + 1) * 8);
    bool queued = false;
    switch (rng % 8) {
      case 0:
      case 1:
      case 2:  // as spawn_put() does
        in_front[id(g)].store(true, std::memory_order_relaxed);
        queued = q.push_front(g);
        if (!queued) in_front[id(g)].store(false, std::memory_order_relaxed);
        break;
      case 3:
      case 4:
        queued = q.push(g);
        break;
      case 5:  // as runq_get() does after a run of front Gs
        if (G* x = q.pop_behind(front)) take(x);
        continue;
      default:
        if (G* x = q.pop()) take(x);
        continue;
    }
    if (queued)
      next++;
    else if (G* x = q.pop())  // full
      take(x);
  }
  done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  while (G* x = q.pop()) take(x);
  std::uint64_t wrong = 0;
  for (auto& n : taken) wrong += n.load(std::memory_order_relaxed) != 1;
  return wrong;
}
std::uint64_t TEST_globrunq_race(int items, int takers) {
  // As the scheduler uses it: a thread outside the runtime (as sysmon is) puts, Ms take
  // batches of varied size. Item i travels as the fake G* (i + 1) * 8. Takers stop once
  // the putter is done and a take finds nothing; the rest is drained here, so a lost
  // entry shows as a wrong count, not as a hang.
  auto runq = std::make_unique<GlobalRunq>();
  std::vector<std::atomic<std::uint32_t>> taken(static_cast<std::size_t>(items));
  auto take = [&](G** batch, std::size_t n) {
    for (std::size_t i = 0; i < n; i++)
      taken[reinterpret_cast<std::uintptr_t>(batch[i]) / 8 - 1].fetch_add(
          1, std::memory_order_relaxed);
  };
  std::atomic<bool> put_all{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < takers; t++)
    ts.emplace_back([&, t] {
      G* batch[Runq::kSize / 2];
      for (std::size_t want = 1 + static_cast<std::size_t>(t);;
           want = want % (Runq::kSize / 2) + 1) {
        const bool last = put_all.load(std::memory_order_acquire);
        const std::size_t n = runq->try_dequeue_bulk(batch, want);
        take(batch, n);
        if (n == 0 && last) break;
      }
    });
  for (int i = 0; i < items; i++)
    runq->enqueue(reinterpret_cast<G*>((static_cast<std::uintptr_t>(i) + 1) * 8));
  put_all.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  G* batch[Runq::kSize / 2];
  while (std::size_t n = runq->try_dequeue_bulk(batch, Runq::kSize / 2)) take(batch, n);
  std::uint64_t wrong = 0;
  for (auto& n : taken) wrong += n.load(std::memory_order_relaxed) != 1;
  return wrong;
}
// Not split-stack itself: calling libgcc from a split function would grow the stack.
__attribute__((noinline)) WEFT_NO_SPLIT_STACK bool TEST_fiber_has_segments_impl();
bool TEST_fiber_has_segments() { return TEST_fiber_has_segments_impl(); }
bool TEST_fiber_has_segments_impl() {
#if WEFT_SPLIT_STACK
  void* ss[10];
  __splitstack_getcontext(ss);
  return split_stack_has_segments(ss);
#else
  return false;
#endif
}
bool TEST_stack_guarded() {
  G* g = getg();
  return g && g->stack.guarded;
}
bool TEST_stack_guard_regions() { return stack_guard_regions(); }
std::size_t TEST_first_stack_size() {
  G* g = getg();
  return g ? g->stack.size : 0;
}
}  // namespace detail

}  // namespace weft
