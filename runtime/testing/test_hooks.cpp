// test_hooks.cpp: the TEST_ hooks (test_hooks.h), built into weft_runtime_testing for the
// test suites only, on the runtime's private headers.
#include "test_hooks.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "check.h"
#include "proc.h"
#include "spinlock.h"
#include "stack.h"
#include "switch.h"
#include "waiter.h"
#include "weft/runtime.h"

#if WEFT_SPLIT_STACK
extern "C" void __splitstack_getcontext(void* context[10]);
#endif

namespace weft::detail {

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

namespace {
// A P whose ring holds g alone, displaced there by a hand-off age_ns before `now` (-1:
// queued some other way). The hooks judge it at that same `now`, not at the clock: a
// slow run (TSan) must not age it.
std::unique_ptr<P> ring_of_one(G* g, std::int64_t age_ns, std::int64_t now) {
  auto p = std::make_unique<P>();
  g->ring_since.store(age_ns < 0 ? 0 : now - age_ns, std::memory_order_relaxed);
  p->runq.push(g);
  return p;
}
}  // namespace

bool TEST_steal_hot(std::int64_t age_ns) {
  auto g = std::make_unique<G>();
  const std::int64_t now = nanotime();
  auto victim = ring_of_one(g.get(), age_ns, now);
  auto thief = std::make_unique<P>();
  thief->m = getm();  // held by the caller, as runq_steal() requires
  return runq_steal(thief.get(), victim.get(), false, now) == g.get();
}

std::int64_t TEST_steal_hot_ns() { return kHotNs; }

std::int64_t TEST_hot_left(std::int64_t age_ns) {
  auto g = std::make_unique<G>();
  const std::int64_t now = nanotime();
  const std::int64_t until = hot_until(ring_of_one(g.get(), age_ns, now).get(), now);
  return until == 0 ? 0 : until - now;
}

SpinRaceResult TEST_spin_race(int threads, int increments) {
  std::atomic<std::uint32_t> word{0};
  std::uint64_t counter = 0;  // plain: only the lock orders its updates
  const std::uint64_t before = spin_contended_count();
  // Held until every thread has come to it and gone down the contended path, so that
  // path is exercised whatever the machine's timing.
  spin_acquire(word);
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < increments; i++) {
        spin_acquire(word);
        counter = counter + 1;
        spin_release(word);
      }
      done.fetch_add(1);
    });
  // (Or until the threads are done: a lock broken so that they got in would otherwise
  // keep this waiting.)
  while (spin_contended_count() - before < static_cast<std::uint64_t>(threads) &&
         done.load() < threads)
    std::this_thread::yield();
  spin_release(word);
  for (auto& t : ts) t.join();
  const auto want = static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(increments);
  return {want - counter, spin_contended_count() - before};
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

bool TEST_checks_enabled() { return kChecks; }

namespace {
// violate_in_fiber() breaks a rule that only a running fiber can break.
void violate_in_fiber(Violation v) {
  switch (v) {
    case Violation::ready_running:
      ready(getg());
      break;
    case Violation::ready_holding_lock: {
      WaitList l;
      G other;
      other.status.store(GStatus::waiting, std::memory_order_relaxed);
      wl_lock(l);
      ready(&other);
      wl_unlock(l);
      break;
    }
    case Violation::switch_holding_lock: {
      WaitList l;
      wl_lock(l);
      weft::yield();
      wl_unlock(l);
      break;
    }
    case Violation::runq_not_owner: {
      P other;  // held by no M
      G g;
      g.status.store(GStatus::runnable, std::memory_order_relaxed);
      systemstack([&] { runq_put(&other, &g, false); });
      break;
    }
    default:
      break;
  }
}
}  // namespace

void TEST_violate(Violation v) {
  switch (v) {
    case Violation::lock_order: {
      SpinLock a{LockRank::registry}, b{LockRank::sched};
      a.lock();
      b.lock();
      b.unlock();
      a.unlock();
      return;
    }
    case Violation::lock_twice: {
      WaitList l;
      wl_lock(l);
      wl_lock(l);
      return;
    }
    case Violation::wait_lists_out_of_order: {
      WaitList ls[2];
      wl_lock(ls[1]);
      wl_lock(ls[0]);
      wl_unlock(ls[0]);
      wl_unlock(ls[1]);
      return;
    }
    case Violation::unlock_unheld: {
      WaitList l;
      wl_unlock(l);
      return;
    }
    case Violation::list_unlocked: {
      WaitList l;
      Waiter w;
      wl_push_back(l, &w);
      return;
    }
    default:
      if (getg()) {
        violate_in_fiber(v);
        return;
      }
      Options opts;
      opts.procs = 1;
      weft::run([v] { violate_in_fiber(v); }, opts);
      return;
  }
}

}  // namespace weft::detail
