// proc.cpp: the scheduler -- G creation and exit, run queues, finding work, parking
// and waking Ms, the post-switch protocol, and run(). See proc.h for the design.
#include "proc.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <typeinfo>

#include "asym_fence.h"
#include "blockprof.h"
#include "check.h"
#include "cpuprof.h"
#include "labelset.h"
#include "leaf.h"
#include "netpoll_hook.h"
#include "registry.h"
#include "switch.h"
#include "systemstack.h"
#include "trace.h"
#include "weft/runtime.h"

#if WEFT_SPLIT_STACK
extern "C" {
void __splitstack_getcontext(void* context[10]);
void __splitstack_setcontext(void* context[10]);
}
#endif

#if defined(__SANITIZE_THREAD__)
// TSan and the global run queue. Debian 12's moodycamel ConcurrentQueue (1.0.3) counts a
// block's dequeued elements with a release-only fetch_add, so the consumer that finds the
// block empty and frees it does not acquire the other consumers' reads of that block;
// the producer that reuses the block then writes a slot TSan sees racing with one of
// those reads. Upstream later made the count acq_rel. On x86 the locked add orders it
// anyway, and the queue's other edges are atomic_thread_fence, which TSan cannot see.
// So races whose top frame is the queue's own implicit-producer code are suppressed
// here, in every program linked with weft; a race in weft's code around the queue is
// reported as before (its top frame is ours). TEST_globrunq_race() drives the queue the
// way the scheduler does, so the suppression is exercised by the suite. Weak: a
// program's own __tsan_default_suppressions wins.
extern "C" __attribute__((weak)) const char* __tsan_default_suppressions() {
  return "race_top:moodycamel::ConcurrentQueue*::ImplicitProducer::\n";
}
#endif

namespace weft::detail {

Sched* sched = nullptr;

// Fiber ids are unique for the life of the process, across runs.
static std::atomic<std::uint64_t> goid_gen{1};

namespace {

thread_local M* tls_m = nullptr;

constexpr int kGfreeLocalMax = 64;  // dead Gs a P keeps before spilling half

inline std::uint64_t fastrand(M* m) {
  // xorshift64*: good enough to pick steal victims and sample profiles.
  std::uint64_t x = m->fastrand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  m->fastrand = x;
  return x * 0x2545F4914F6CDD1DULL;
}

// ---- P lists (REQUIRES: sched->lock held) --------------------------------------------

void pidleput(P* p) {
  p->status.store(PStatus::idle, std::memory_order_seq_cst);
  p->m = nullptr;
  p->link = sched->pidle;
  sched->pidle = p;
  sched->npidle.fetch_add(1, std::memory_order_seq_cst);
}

P* pidleget() {
  P* p = sched->pidle;
  if (p) {
    sched->pidle = p->link;
    p->link = nullptr;
    sched->npidle.fetch_sub(1, std::memory_order_seq_cst);
    sched->n_pidlegets.fetch_add(1, std::memory_order_relaxed);
    sysmon_wake(sched);  // it may be in deep sleep: a P is about to run fibers
  }
  return p;
}

void acquirep(M* m, P* p) {
  m->p = p;
  p->m = m;
  p->status.store(PStatus::running, std::memory_order_seq_cst);
}

// ---- G free lists -----------------------------------------------------------------

// The global free list is a stack of batches (each a linked list of Gs), so that a P
// refills or spills half a cache in O(1) under the lock instead of walking Gs that
// died on another P -- each a cache miss.
// gfget() and gfput(): p's cache, or with p null (off a P) the global batches.
// REQUIRES: the caller holds p (if not null).
G* gfget(P* p) {
  WEFT_ASSERT(!p || p->m == getm());
  if (p && !p->gfree) {
    sched->gfree_lock.lock();
    if (!sched->gfree_batches.empty()) {
      Sched::GBatch b = sched->gfree_batches.back();
      sched->gfree_batches.pop_back();
      p->gfree = b.head;
      p->ngfree = b.n;
    }
    sched->gfree_lock.unlock();
  }
  if (p && p->gfree) {
    G* g = p->gfree;
    p->gfree = g->schedlink;
    p->ngfree--;
    g->schedlink = nullptr;
    return g;
  }
  if (!p) {  // off a P (go() from a plain thread): take one G from a batch
    G* g = nullptr;
    sched->gfree_lock.lock();
    if (!sched->gfree_batches.empty()) {
      Sched::GBatch& b = sched->gfree_batches.back();
      g = b.head;
      b.head = g->schedlink;
      if (--b.n == 0) sched->gfree_batches.pop_back();
      g->schedlink = nullptr;
    }
    sched->gfree_lock.unlock();
    return g;
  }
  return nullptr;
}

void gfput(P* p, G* g) {
  WEFT_ASSERT(!p || p->m == getm());
  if (!p) {
    sched->gfree_lock.lock();
    g->schedlink = nullptr;
    sched->gfree_batches.push_back(Sched::GBatch{g, 1});
    sched->gfree_lock.unlock();
    return;
  }
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->ngfree < kGfreeLocalMax) return;
  // Spill the older half (the tail) as one batch; the newest, warmest Gs stay.
  G* keep_last = p->gfree;
  for (int i = 1; i < kGfreeLocalMax / 2; i++) keep_last = keep_last->schedlink;
  G* spill = keep_last->schedlink;
  keep_last->schedlink = nullptr;
  const int n = p->ngfree - kGfreeLocalMax / 2;
  p->ngfree = kGfreeLocalMax / 2;
#if WEFT_SPLIT_STACK
  for (G* x = spill; x; x = x->schedlink) split_stack_release(x->ctx.ss);
#endif
  sched->gfree_lock.lock();
  sched->gfree_batches.push_back(Sched::GBatch{spill, n});
  sched->gfree_lock.unlock();
}

}  // namespace

// ---- run queues ---------------------------------------------------------------------
// runq_put_slow(), runq_get_ring() and globrunq_get() are the out-of-line cases of
// switch.h's runq_put() and runq_get().

void runq_put_slow(P* p, G* g, bool next) {
  std::int64_t since = 0;
  if (next) {
    G* old = p->runnext.exchange(g, std::memory_order_acq_rel);
    if (!old) return;
    g = old;  // the old runnext goes to the tail
    if (old->partner) since = nanotime();
  }
  g->ring_since.store(since, std::memory_order_relaxed);
  g->queued_front.store(false, std::memory_order_relaxed);  // (a stolen one may come flagged)
  while (!p->runq.push(g)) {
    // Full: move half of it to the global queue in one batch.
    G* batch[Runq::kSize / 2 + 1];
    std::uint32_t n = p->runq.take_half(batch);
    if (n == 0) continue;  // a thief made room
    batch[n++] = g;
    sched->runq.enqueue_bulk(batch, n);
    sched->runqsize.fetch_add(n, std::memory_order_seq_cst);
    return;
  }
}

// Fairness. Pops and steals take from the head, so the Gs that came in at the front are
// always a prefix of the ring, and the Gs queued at the tail wait behind it. Once
// kFrontRunMax front Gs have run in a row, the oldest G waiting behind them runs next
// (Runq::pop_behind()): a tree of spawns delays the rest of the queue, it cannot starve
// it. Go's period for the same guarantee to the global queue.
constexpr std::uint32_t kFrontRunMax = kFairnessPeriod;

namespace {
bool queued_front(G* g) { return g->queued_front.load(std::memory_order_relaxed); }
}  // namespace

G* runq_get_ring(P* p) {
  if (p->front_run >= kFrontRunMax) {
    p->front_run = 0;
    if (G* g = p->runq.pop_behind(queued_front)) return g;
  }
  G* g = p->runq.pop();
  if (g && queued_front(g))
    p->front_run++;
  else
    p->front_run = 0;  // the tail had its turn (or nothing is queued)
  return g;
}

// globrunq_get() takes a batch from the global queue: runs the first, queues the rest
// locally. `max` 0 means "a fair share".
G* globrunq_get(P* p, std::int64_t max) {
  std::int64_t size = sched->runqsize.load(std::memory_order_relaxed);
  if (size <= 0) return nullptr;
  std::int64_t n = size / sched->nprocs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<std::int64_t>(Runq::kSize / 2)) n = Runq::kSize / 2;
  G* batch[Runq::kSize / 2];
  std::size_t got = sched->runq.try_dequeue_bulk(batch, static_cast<std::size_t>(n));
  if (got == 0) return nullptr;
  sched->runqsize.fetch_sub(static_cast<std::int64_t>(got), std::memory_order_seq_cst);
  p->n_global_takes.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 1; i < got; i++) runq_put(p, batch[i], false);
  return batch[0];
}

// runq_steal() (proc.h). kHotNs: a G that a hand-off displaced from runnext into its P's
// ring is left to that P for this long: it is another fiber's partner in a hand-off (a producer its
// consumer woke), and moving it to another core would have the pair bounce their channel's cache
// lines between the cores with every message, where on one P they take turns. After that, a thief
// takes it: its P is busy with something else. (Linux leaves a task that ran in the last 0.5 ms to
// its CPU for the same reason; Go waits 3 µs before stealing a runnext.) Gs queued any other way --
// spawned, woken by the poller, yielded -- go at once.
G* runq_steal(P* p, P* victim, bool steal_runnext, std::int64_t now) {
  WEFT_ASSERT(p->m == getm());
  if (hot_until(victim, now) != 0) return nullptr;
  G* batch[Runq::kSize / 2];
  std::uint32_t n = victim->runq.grab(batch);
  if (n == 0 && steal_runnext) {
    G* next = victim->runnext.load(std::memory_order_acquire);
    if (next && victim->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
      batch[0] = next;
      n = 1;
    }
  }
  if (n == 0) return nullptr;
  trace_event(EventKind::steal, 0, n, static_cast<std::uint64_t>(victim->id));
  for (std::uint32_t i = 0; i + 1 < n; i++) runq_put(p, batch[i], false);
  p->n_steals.fetch_add(1, std::memory_order_relaxed);
  p->n_stolen.fetch_add(n, std::memory_order_relaxed);
  return batch[n - 1];
}

namespace {

// spawn_put() queues a G that go() just made: in runnext, and the one it displaces from
// there -- its older sibling, as a rule -- at the head of the ring rather than the tail.
// A fiber's children thus run newest first, before anything queued earlier, and a tree
// of fibers is walked depth first: the fibers alive at once are the current path and
// its pending siblings (tens), not a whole level of the tree (tens of thousands, each
// with a stack touched for the first time). Thieves still take from the head, so the
// other Ps get pending siblings.
void spawn_put(P* p, G* g) {
  G* old = p->runnext.exchange(g, std::memory_order_acq_rel);
  if (!old) return;
  old->ring_since.store(0, std::memory_order_relaxed);
  old->queued_front.store(true, std::memory_order_relaxed);  // before a thief can see it
  if (p->runq.push_front(old)) return;
  runq_put(p, old, false);
}

// ---- M lifecycle ---------------------------------------------------------------------

void schedule(M* m);

void mstart(M* m) {
  tls_m = m;
  m->rec.eh = eh_globals_current();
  m->tid = static_cast<pid_t>(syscall(SYS_gettid));
  context_thread_init(m->g0);
  overflow_handler_install_thread(m);
  cpuprof_thread_start(m);
  schedule(m);
  cpuprof_thread_stop(m);
  overflow_handler_remove_thread(m);
  tls_m = nullptr;
}

// allocm() makes an M; publishm() lists it in allm once its thread object is set, so
// that shutdown never reads a std::thread being assigned.
M* allocm() {
  M* m = new M;
  m->rec.arg = m;
  systemstack_init(m);
  m->id = sched->nm.load(std::memory_order_relaxed);
  m->fastrand = 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(m->id + 1) ^
                static_cast<std::uint64_t>(nanotime());
  sched->nm.fetch_add(1, std::memory_order_relaxed);
  return m;
}

void publishm(M* m) {
  sched->lock.lock();
  sched->allm.push_back(m);
  sched->lock.unlock();
  // Its thread may already be parked in stopm(), having looked at `stopping` before
  // begin_shutdown() set it and copied allm without it: wake it (seen under TSan).
  if (sched->stopping.load(std::memory_order_seq_cst)) m->park.wakeup();
}

// startm() runs p (an idle P if nullptr) on an idle or new M.
void startm(P* p, bool spinning) {
  sched->lock.lock();
  if (!p) {
    p = pidleget();
    if (!p) {
      sched->lock.unlock();
      if (spinning) sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
  }
  M* nm = sched->midle;
  if (nm) {
    sched->midle = nm->link;
  }
  sched->lock.unlock();
  if (!nm) {
    nm = allocm();
    nm->spinning = spinning;
    nm->nextp.store(p, std::memory_order_relaxed);  // the thread's start orders it
    nm->thread = std::thread(mstart, nm);
    publishm(nm);
    return;
  }
  nm->spinning = spinning;
  nm->nextp.store(p, std::memory_order_release);
  sched->n_wakeups.fetch_add(1, std::memory_order_relaxed);
  nm->park.wakeup();
}

// stopm() parks m until startm() hands it a P. Returns false at shutdown.
bool stopm(M* m) {
  sched->lock.lock();
  m->link = sched->midle;
  sched->midle = m;
  sched->lock.unlock();
  sched->n_parks.fetch_add(1, std::memory_order_relaxed);
  trace_event(EventKind::m_park);
  for (;;) {
    // Shutdown wakes the Ms it finds in allm; one that parks after that wake-up (it was
    // on its way here, or was started late) must see `stopping` itself, or it sleeps
    // forever and run() never joins it (seen under TSan).
    // (A P that startm() hands over meanwhile is simply not used: the runtime is ending.)
    if (sched->stopping.load(std::memory_order_seq_cst)) return false;
    m->park.sleep();
    m->park.clear();
    // Atomic: a spurious return from sleep (a signal) reads it while startm() may be
    // writing it.
    if (m->nextp.load(std::memory_order_acquire)) break;
    if (sched->stopping.load(std::memory_order_acquire)) return false;
  }
  acquirep(m, m->nextp.load(std::memory_order_relaxed));
  m->nextp.store(nullptr, std::memory_order_relaxed);
  trace_event(EventKind::m_unpark);
  return true;
}

bool any_queued_work(bool with_runnext = true, std::int64_t* hot = nullptr);

// resetspinning(): m found work and stops spinning. go() and ready() wake no M while
// one spins, counting on it; so the last spinner to stop wakes another if work is still
// queued where a thief could take it (the seq_cst decrement and the loads of the queues
// pair with a submitter's push and its load of nmspinning: one of them sees the other).
// Go wakes one unconditionally; with one poller M on a lightly loaded server that was a
// futile thread wake-up per timer or I/O event (measured: docs/benchmarks.md, "Run of
// 2026-11-27 (third session)").
void resetspinning(M* m) {
  m->spinning = false;
  if (sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst) == 1 && any_queued_work(false))
    wakep();
}

// ---- switching -------------------------------------------------------------------------

void gdestroy(M* m, G* g);

// The live-fiber count is kept per P (owner-written) so go() and exit never share a
// cache line; the registry sums it. Off a P, a shared counter takes the update.
inline void live_add(P* p, std::int64_t d) {
  if (p)
    p->n_live.store(p->n_live.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  else
    registry_live_add(d);
}

}  // namespace

// post_switch_rest(), end_inherited_slice() and overflow_report() are switch.h's out-of-line
// cases.

// post_switch_rest() is post_switch() for all but a park that commits: yields, exits,
// and a park cancelled because the event it waits for already happened.
__attribute__((noinline)) void post_switch_rest(M* m, PostKind kind, G* prev) {
  switch (kind) {
    case PostKind::none:
      break;
    case PostKind::yield_local:
      g_set_status(prev, GStatus::runnable, std::memory_order_relaxed);
      runq_put(m->p, prev, false);
      break;
    case PostKind::yield_global:
      g_set_status(prev, GStatus::runnable, std::memory_order_relaxed);
      globrunq_put(prev);
      break;
    case PostKind::park:  // cancelled: it runs again next
      prev->partner = false;
      trace_event(EventKind::fiber_unpark, prev->id);
      set_runnable_after_wait(prev);
      runq_put(m->p, prev, true);
      break;
    case PostKind::exit:
      gdestroy(m, prev);
      break;
  }
}

// end_inherited_slice() honours a preemption request that reached a direct switch: a
// chain of fibers handing runnext to each other never passes execute_prep() without
// inheriting, so it would keep the 10 ms slice (and the P) forever. The runnext G goes
// to the tail of the run queue and the caller switches through g0, whose schedule()
// runs due timers and may take from the global queue first.
void end_inherited_slice(P* p) {
  p->preempt.store(false, std::memory_order_relaxed);
  sched->n_preemptions.fetch_add(1, std::memory_order_relaxed);
  G* rn = p->runnext.load(std::memory_order_relaxed);
  if (rn && p->runnext.compare_exchange_strong(rn, nullptr, std::memory_order_acq_rel))
    runq_put(p, rn, false);
}

#if !WEFT_SPLIT_STACK
[[noreturn]] void overflow_report(G* g) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf,
                        "fatal error: stack overflow in fiber %llu \"%s\" (bottom of an unguarded "
                        "stack overwritten; raise vm.max_map_count)\ncreated by %s\n\tat %s:%u\n",
                        static_cast<unsigned long long>(g->id), g->name.c_str(),
                        g->site.function_name(), g->site.file_name(),
                        static_cast<unsigned>(g->site.line()));
  if (write(2, buf, static_cast<std::size_t>(n > 0 ? n : 0)) < 0) {
  }
  std::_Exit(2);
}
#endif

namespace {

[[noreturn]] WEFT_NO_SPLIT_STACK void fiber_main(transfer_t t);

// ---- finding work ---------------------------------------------------------------------

std::int64_t earliest_timer() {
  std::int64_t next = 0;
  for (P* p : sched->allp) {
    std::int64_t w = p->timer0.load(std::memory_order_seq_cst);
    if (w != 0 && (next == 0 || w < next)) next = w;
  }
  return next;
}

// any_queued_work(): a fiber waits in the global queue or in some P's run queue -- its
// local ring, or also its runnext slot when `with_runnext` (resetspinning() leaves
// runnext to its P, as ready() does) -- where a thief may take it now. A ring whose
// first G is hot (kHotNs) is not such work: an M that found only that sleeps instead of
// spinning on its P's queue (and its cache lines) for as long, and *hot (if given) says
// until when, the earliest, for it to look again.
bool any_queued_work(bool with_runnext, std::int64_t* hot) {
  if (hot) *hot = 0;
  if (sched->runqsize.load(std::memory_order_seq_cst) > 0) return true;
  for (P* q : sched->allp) {
    if (with_runnext && q->runnext.load(std::memory_order_seq_cst)) return true;
    if (q->runq.empty()) continue;
    const std::int64_t until = hot_until(q);
    if (until == 0) return true;
    if (hot && (*hot == 0 || until < *hot)) *hot = until;
  }
  return false;
}

G* steal_work(M* m, P* p, bool* inherit) {
  const int n = sched->nprocs;
  for (int round = 0; round < 4; round++) {
    const bool last = round == 3;
    int start = static_cast<int>(fastrand(m) % static_cast<std::uint64_t>(n));
    for (int k = 0; k < n; k++) {
      P* victim = sched->allp[(start + k) % n];
      if (victim == p) continue;
      if (last) {
        std::int64_t w = victim->timer0.load(std::memory_order_relaxed);
        if (w != 0 && w <= nanotime()) {
          timer_run(victim, nanotime());
          if (G* g = runq_get(p, inherit)) return g;
        }
      }
      if (G* g = runq_steal(p, victim, last)) {
        *inherit = false;
        return g;
      }
    }
  }
  return nullptr;
}

// poll_spin(): the poller M, about to sleep in the kernel with every P idle, first polls
// without blocking for up to Sched::poll_spin (Options::poll_spin_us). A request that
// arrives meanwhile is taken at once, instead of after a thread wake-up (tens of
// microseconds on a virtual machine, the bulk of a broker's latency at moderate rates).
// While it spins the M counts as spinning, so ready() and go() leave their work to it
// rather than waking a thread; it stops when I/O, queued work or a due timer appears
// (*work: not I/O) or the time is up. Erlang's schedulers busy-wait the same way.
G* poll_spin(M* m, bool* work) {
  const std::int64_t until = nanotime() + sched->poll_spin;
  m->spinning = true;
  sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
  G* polled = nullptr;
  for (;;) {
    if ((polled = netpoll_take(0))) break;
    if (any_queued_work() || sched->stopping.load(std::memory_order_acquire)) {
      *work = true;
      break;
    }
    const std::int64_t now = nanotime();
    const std::int64_t t = earliest_timer();
    if (t != 0 && t <= now) {
      *work = true;
      break;
    }
    if (now >= until) break;
    for (int i = 0; i < 64; i++) cpu_relax();
  }
  m->spinning = false;
  sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  // Work readied while we counted as spinning woke nobody: look once more now that we
  // do not (a ready() after this point sees no spinner and wakes an M itself).
  if (!polled && !*work && any_queued_work()) *work = true;
  if (polled) sched->n_poll_spin_hits.fetch_add(1, std::memory_order_relaxed);
  return polled;
}

// findrunnable() returns a G to run, parking m while there is none. Returns nullptr at
// shutdown (m then holds no P).
G* findrunnable(M* m, bool* inherit) {
top:
  P* p = m->p;
  if (sched->stopping.load(std::memory_order_acquire)) {
    sched->lock.lock();
    pidleput(p);
    sched->lock.unlock();
    m->p = nullptr;
    return nullptr;
  }
  std::int64_t t0 = p->timer0.load(std::memory_order_relaxed);
  if (t0 != 0 && t0 <= nanotime()) timer_run(p, nanotime());

  if (p->schedtick.load(std::memory_order_relaxed) % kFairnessPeriod == 0 &&
      sched->runqsize.load(std::memory_order_relaxed) > 0)
    if (G* g = globrunq_get(p, 1)) return *inherit = false, g;
  if (G* g = runq_get(p, inherit)) return g;
  if (sched->runqsize.load(std::memory_order_relaxed) > 0)
    if (G* g = globrunq_get(p, 0)) return *inherit = false, g;
  if (netpoller() && netpoll_inject(0) > 0)
    if (G* g = runq_get(p, inherit)) return g;

  // Steal, unless enough Ms already spin (half the busy Ps, as Go limits it).
  const int busy = sched->nprocs - sched->npidle.load(std::memory_order_relaxed);
  if (m->spinning || 2 * sched->nmspinning.load(std::memory_order_relaxed) < busy) {
    if (!m->spinning) {
      m->spinning = true;
      sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
    }
    if (G* g = steal_work(m, p, inherit)) return g;
    if (G* g = runq_get(p, inherit)) return g;  // timers we ran readied it here
  }

  // Nothing: give up the P, stop spinning, then look once more before parking.
  sched->lock.lock();
  pidleput(p);
  sched->lock.unlock();
  m->p = nullptr;
  const bool was_spinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  std::int64_t hot = 0;  // queued Gs hot until then: look again at that time
  const bool work = was_spinning ? any_queued_work(true, &hot)
                                 : sched->runqsize.load(std::memory_order_seq_cst) > 0;
  auto wake_time = [&hot] {  // the next timer, or the end of a hot G's time if earlier
    const std::int64_t t = earliest_timer();
    return t == 0 || (hot != 0 && hot < t) ? hot : t;
  };
  if (work) {
    sched->lock.lock();
    P* np = pidleget();
    sched->lock.unlock();
    if (np) {
      acquirep(m, np);
      if (was_spinning) {
        m->spinning = true;
        sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      goto top;
    }
  }

  // Become the M that sleeps until the next timer (or I/O), if nobody is.
  bool expected = false;
  if (!sched->stopping.load(std::memory_order_acquire) &&
      sched->poller_busy.compare_exchange_strong(expected, true, std::memory_order_seq_cst)) {
    std::int64_t next = wake_time();
    if (next != 0 || netpoller()) {
      sched->poll_until.store(next, std::memory_order_seq_cst);
      G* polled = nullptr;
      if (netpoller() && sched->poll_spin > 0) {
        bool work = false;
        polled = poll_spin(m, &work);
        if (work) {
          sched->poll_until.store(0, std::memory_order_seq_cst);
          sched->poller_busy.store(false, std::memory_order_seq_cst);
          goto retry_poll;
        }
        // A timer added meanwhile may have had its poll_break() drained by the spin.
        next = wake_time();
        sched->poll_until.store(next, std::memory_order_seq_cst);
      }
      trace_event(EventKind::m_park);
      if (!polled && netpoller()) {  // (the spin may have found some already)
        std::int64_t delay = next == 0 ? -1 : std::max<std::int64_t>(0, next - nanotime());
        polled = netpoll_take(delay);
      } else if (!polled) {
        sched->poll_note.sleep_until_ns(next);
        sched->poll_note.clear();
      }
      trace_event(EventKind::m_unpark);
      sched->poll_until.store(0, std::memory_order_seq_cst);
      sched->poller_busy.store(false, std::memory_order_seq_cst);
      sched->lock.lock();
      P* np = pidleget();
      sched->lock.unlock();
      if (np) {
        acquirep(m, np);
        if (polled) {
          // Run the first fiber the poll found here, on the P just taken, and queue the
          // rest there (Go's findrunnable does the same). Readying them from this M,
          // which had no P, would have sent them to the global queue and woken another
          // M for each -- a thread wake-up per incoming message that the M already
          // awake then takes the work from anyway.
          G* first = polled;
          polled = polled->schedlink;
          first->schedlink = nullptr;
          make_runnable(first);
          bool more = false;
          while (polled) {
            G* g = polled;
            polled = g->schedlink;
            g->schedlink = nullptr;
            make_runnable(g);
            runq_put(np, g, false);
            more = true;
          }
          if (more) wakep();
          *inherit = false;
          return first;
        }
        m->spinning = true;  // look at every P's timers and queues
        sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
        goto top;
      }
      // Every P is busy: they will find what the poll readied (global queue).
      netpoll_ready(polled);
    } else {
      sched->poller_busy.store(false, std::memory_order_seq_cst);
      // A timer may have been added between the scan and the store above.
      if (earliest_timer() != 0) goto retry_poll;
    }
  } else {
    std::int64_t next = wake_time();
    std::int64_t until = sched->poll_until.load(std::memory_order_seq_cst);
    if (next != 0 && (until == 0 || next < until)) poll_break();
  }
  if (!stopm(m)) return nullptr;
  goto top;

retry_poll:
  sched->lock.lock();
  {
    P* np = pidleget();
    sched->lock.unlock();
    if (np) {
      acquirep(m, np);
      goto top;
    }
  }
  if (!stopm(m)) return nullptr;
  goto top;
}

// schedule() is g0's loop: find a G, run it until it switches back to g0, repeat.
void schedule(M* m) {
  for (;;) {
    if (!m->p) {
      if (P* np = m->nextp.load(std::memory_order_acquire)) {
        acquirep(m, np);
        m->nextp.store(nullptr, std::memory_order_relaxed);
      } else if (!stopm(m)) {
        return;
      }
    }
    bool inherit = false;
    G* g = findrunnable(m, &inherit);
    if (!g) return;
    if (m->spinning) resetspinning(m);
    execute_prep(m, m->p, g, inherit);
    SwitchRecord* rec = context_switch(m->g0, g->ctx, &m->rec, false);
    post_switch(static_cast<M*>(rec->arg));
  }
}

// ---- G creation and exit ------------------------------------------------------------

G* galloc() {
  G* g = new G;
  g->stack = stack_alloc();
  sched->n_stacks.fetch_add(1, std::memory_order_relaxed);
  registry_add(g);
  return g;
}

void begin_shutdown();

[[noreturn]] void panic_uncaught(G* g) {
  std::string what = "unknown exception";
  try {
    throw;
  } catch (const std::exception& e) {
    what = std::string(e.what()) + " [" + typeid(e).name() + "]";
  } catch (...) {
  }
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf,
                        "panic: uncaught exception in fiber: %s\n\n"
                        "fiber %llu \"%s\" [running]:\ncreated by %s\n\tat %s:%u\n",
                        what.c_str(), static_cast<unsigned long long>(g->id), g->name.c_str(),
                        g->site.function_name(), g->site.file_name(),
                        static_cast<unsigned>(g->site.line()));
  if (write(2, buf, static_cast<std::size_t>(n < 0 ? 0 : std::min<int>(n, sizeof buf - 1))) < 0) {
  }
  std::_Exit(2);
}

FiberId main_id = 0;

// fiber_main() is every fiber's first frame. Not split-stack: its catch calls into
// libstdc++, which would make gold start every fiber on a 1 MiB segment (leaf.h).
void fiber_main(transfer_t t) {
  SwitchRecord* rec = context_resumed(t);
  M* m = static_cast<M*>(rec->arg);
  systemstack([m] { post_switch(m); });
  G* g = m->curg;
  try {
    g->fn();
  } catch (...) {
    panic_uncaught(g);
  }
  g->fn.reset();
  if (g->id == main_id) systemstack([] { begin_shutdown(); });
  m = getm();  // the fiber may have moved
  switch_away(m, m->curg, PostKind::exit);
  __builtin_unreachable();
}

void gdestroy(M* m, G* g) {
  if (trace_enabled()) trace_fiber_exit(g->id, g->name);  // before fibers() stops listing it
  g_set_status(g, GStatus::dead, std::memory_order_release);
  spin_lock(g->ident_lock, LockRank::ident);
  g->name.clear();
  spin_unlock(g->ident_lock);
  g_labels_drop(g);
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
  // Segmented stacks: the segments it grew stay with the G for the next fiber.
  live_add(m->p, -1);
  gfput(m->p, g);
}

}  // namespace

FiberId newproc_impl(Function& fn, std::string& name, std::source_location site);

// ---- exported within the runtime -------------------------------------------------------

std::int64_t hot_until(const P* q, std::int64_t now) {
  if (G* first = q->runq.front()) {
    const std::int64_t since = first->ring_since.load(std::memory_order_relaxed);
    if (since != 0) {
      const std::int64_t until = since + kHotNs;
      if ((now ? now : nanotime()) < until) return until;
    }
  }
  return 0;
}

__attribute__((noipa)) M* getm() {
  asm volatile("" ::: "memory");
  return tls_m;
}

std::int64_t nanotime() {
  struct timespec ts;
  leaf_clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void wakep() {
  if (sched->npidle.load(std::memory_order_seq_cst) == 0) return;
  int zero = 0;
  if (sched->nmspinning.load(std::memory_order_seq_cst) != 0 ||
      !sched->nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst))
    return;
  startm(nullptr, true);
}

void poll_break() {
  if (NetpollHook* np = netpoller())
    np->wake();
  else
    sched->poll_note.wakeup();
}

void globrunq_put(G* g) {
  WEFT_ASSERT(g->status.load(std::memory_order_relaxed) == GStatus::runnable);
  sched->runq.enqueue(g);
  sched->runqsize.fetch_add(1, std::memory_order_seq_cst);
  wakep();
}

void park(WaitReason reason, bool (*commit)(G*, void*), void* arg) {
  WEFT_ASSERT(commit != nullptr);
  park_with(reason, ParkKind::call, commit, arg);
}

void ready(G* g, bool partner) { ready_inline(g, partner); }

void gosched(M* m, bool global) {
  G* g = m->curg;
  switch_away(m, g, global ? PostKind::yield_global : PostKind::yield_local);
}

void check_preempt() {
  M* m = getm();
  if (!m || !m->curg || !m->p) return;
  G* g = m->curg;
  P* p = m->p;
  if (!p->preempt.load(std::memory_order_relaxed)) return;
  p->preempt.store(false, std::memory_order_relaxed);
  sched->n_preemptions.fetch_add(1, std::memory_order_relaxed);
  switch_away(m, g, PostKind::yield_global);
}

// The blocking-call handoff (Go's entersyscall/exitsyscall). The P stays attached in
// status `syscall`; sysmon retakes it after 20 µs (sysmon.cpp) and hands it to another M.
void enter_blocking_impl() {
  M* m = getm();
  if (!m || !m->curg || !m->p) return;  // a plain thread, or nested: nothing to hand off
  G* g = m->curg;
  P* p = m->p;
  g->status_since.store(tick_now(), std::memory_order_relaxed);
  g_set_status(g, GStatus::syscall, std::memory_order_relaxed);
  trace_event(EventKind::blocking_enter, g->id);
  p->syscalltick.fetch_add(1, std::memory_order_relaxed);
  m->oldp = p;
  m->p = nullptr;
  p->status.store(PStatus::syscall, std::memory_order_seq_cst);
}

void exit_blocking_impl() {
  M* m = getm();
  if (!m || !m->curg || !m->oldp) return;
  G* g = m->curg;
  P* p = m->oldp;
  m->oldp = nullptr;
  trace_event(EventKind::blocking_exit, g->id);
  PStatus s = PStatus::syscall;
  if (p->status.compare_exchange_strong(s, PStatus::running, std::memory_order_seq_cst)) {
    m->p = p;
    p->m = m;
    g_set_status(g, GStatus::running, std::memory_order_relaxed);
    return;
  }
  // sysmon took the P. Any idle one?
  P* np = nullptr;
  systemstack([&] {
    sched->lock.lock();
    np = pidleget();
    sched->lock.unlock();
  });
  if (np) {
    acquirep(m, np);
    g_set_status(g, GStatus::running, std::memory_order_relaxed);
    return;
  }
  // None: queue g for whoever has a P, and park this M (on g0, see schedule()).
  switch_away(m, g, PostKind::yield_global);
}

FiberId newproc(Function& fn, std::string& name, std::source_location site) {
  FiberId id = 0;
  systemstack([&] { id = newproc_impl(fn, name, site); });
  check_preempt();
  // A fiber that spawns faster than its P runs what it spawned yields once half the
  // local queue is its children: they run (and most often finish) while their G and
  // stack are still warm, and the next go() reuses them from this P's free list.
  // Spilling them to the global queue instead, as Go does, keeps every one alive with
  // a stack of its own until some P gets to it.
  if (M* m = getm(); m && m->p && m->curg && m->p->runq.size() >= Runq::kSize / 2)
    gosched(m, false);
  return id;
}

FiberId newproc_impl(Function& fn, std::string& name, std::source_location site) {
  M* m = getm();
  P* p = m ? m->p : nullptr;
  G* g = gfget(p);
  if (!g) g = galloc();
  FiberId id;
  if (p) {
    if (p->goid_next == p->goid_end) {
      p->goid_next = goid_gen.fetch_add(16, std::memory_order_relaxed);
      p->goid_end = p->goid_next + 16;
    }
    id = p->goid_next++;
  } else {
    id = goid_gen.fetch_add(1, std::memory_order_relaxed);
  }
  g->fn = std::move(fn);
  spin_lock(g->ident_lock, LockRank::ident);
  g->id = id;
  g->name = std::move(name);
  g->site = site;
  spin_unlock(g->ident_lock);
  g_labels_inherit(g, m ? m->curg : nullptr);  // go() inherits the creator's labels
  g->wait_reason.store(WaitReason::none, std::memory_order_relaxed);
#if WEFT_SPLIT_STACK
  split_stack_make(g->ctx.ss, g->stack.lo, g->stack.size);
#endif
  context_make(g->ctx, g->stack.lo, g->stack.size, fiber_main);
  g->status_since.store(0, std::memory_order_relaxed);  // "since" is kept for waits only
  g_set_status(g, GStatus::runnable, std::memory_order_release);
  live_add(p, 1);
  trace_event(EventKind::fiber_create, id, m && m->curg ? m->curg->id : 0);
  if (p) {
    p->n_spawned.store(p->n_spawned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    spawn_put(p, g);
    wakep();
  } else {
    globrunq_put(g);
  }
  return id;
}

namespace {

void begin_shutdown() {
  sched->stopping.store(true, std::memory_order_seq_cst);
  sched->lock.lock();
  std::vector<M*> ms = sched->allm;
  sched->lock.unlock();
  for (M* m : ms) m->park.wakeup();
  poll_break();
  sysmon_wake(sched);
}

}  // namespace

// handoffp() gives a P retaken from a blocking call to whoever can use it (sysmon.cpp).
void handoffp(P* p) {
  if (sched->stopping.load(std::memory_order_acquire)) {
    sched->lock.lock();
    pidleput(p);
    sched->lock.unlock();
    return;
  }
  if (!p->runq.empty() || p->runnext.load(std::memory_order_acquire) ||
      sched->runqsize.load(std::memory_order_seq_cst) > 0) {
    startm(p, false);
    return;
  }
  int zero = 0;
  if (sched->nmspinning.load() + sched->npidle.load() == 0 &&
      sched->nmspinning.compare_exchange_strong(zero, 1)) {
    startm(p, true);
    return;
  }
  sched->lock.lock();
  pidleput(p);
  sched->lock.unlock();
  if (p->timer0.load(std::memory_order_seq_cst) != 0) poll_break();
}

std::int64_t coarse_now() {
  struct timespec ts;
  leaf_clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// ---- run() -------------------------------------------------------------------------------

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (end && *end == '\0' && x > 0 && x < 1 << 20) ? static_cast<int>(x) : fallback;
}

}  // namespace

int run_runtime(Function main_fn, Options opts) {
  if (sched) fatal("weft::run: a runtime is already running in this process");
  int procs = opts.procs > 0 ? opts.procs : env_int("WEFT_PROCS", 0);
  if (procs <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    procs = n > 0 ? static_cast<int>(n) : 1;
  }
  std::size_t stack_size = opts.stack_size;
  if (stack_size == 0) stack_size = static_cast<std::size_t>(env_int("WEFT_STACK_SIZE", 0));
  if (stack_size == 0) {
#if WEFT_ASAN || WEFT_TSAN
    stack_size = 1024 * 1024;
#else
    stack_size = 256 * 1024;
#endif
  }
  stack_init(stack_size);
  netpoll_raise_nofile();

  asym_fence_init();
  auto* s = new Sched;
  s->clock.store(coarse_now(), std::memory_order_relaxed);
  s->nprocs = procs;
  {
    std::int64_t ms = opts.stack_trim_after_ms;
    if (ms == 0) {
      const char* v = std::getenv("WEFT_STACK_TRIM_MS");
      ms = v && std::strcmp(v, "0") == 0 ? -1 : env_int("WEFT_STACK_TRIM_MS", 1000);
    }
    s->stack_trim_after = ms < 0 ? 0 : ms * 1'000'000;
    std::int64_t spin = opts.poll_spin_us;
    if (spin == 0) spin = env_int("WEFT_POLL_SPIN_US", 0);
    s->poll_spin = spin < 0 ? 0 : spin * 1000;
  }
  for (int i = 0; i < procs; i++) {
    P* p = new P;
    p->id = i;
    s->allp.push_back(p);
  }
  sched = s;
  registry_reset();
  s->lock.lock();
  for (int i = procs - 1; i >= 0; i--) pidleput(s->allp[i]);
  s->lock.unlock();

  // The calling thread becomes M0.
  M* m0 = allocm();
  publishm(m0);
  tls_m = m0;
  m0->rec.eh = eh_globals_current();
#if WEFT_SPLIT_STACK
  // libgcc gives the main thread a stack guard; other threads have none (0). Clear it
  // while this thread is M0, so its g0 is treated like every M's: never split.
  void* m0_ss[10];
  __splitstack_getcontext(m0_ss);
  void* m0_guard = m0_ss[3];
  m0_ss[3] = nullptr;
  __splitstack_setcontext(m0_ss);
#endif
  m0->tid = static_cast<pid_t>(syscall(SYS_gettid));
  context_thread_init(m0->g0);
  overflow_handler_install_thread(m0);
  cpuprof_thread_start(m0);
  s->lock.lock();
  P* p0 = pidleget();
  s->lock.unlock();
  acquirep(m0, p0);

  // main's exit ends the program (fiber_main).
  main_id = goid_gen.load();
  std::string main_name = "main";
  newproc(main_fn, main_name, std::source_location::current());
  netpoll_start();
  sysmon_start(s);

  schedule(m0);

  // Shutdown: every M has left its loop or will at its next schedule. sysmon goes
  // first (it starts Ms); an M finishing its last fiber may still start one, so join
  // until the list stops growing.
  if (s->sysmon.joinable()) s->sysmon.join();
  std::vector<M*> ms;
  for (std::size_t joined = 0;;) {
    s->lock.lock();
    ms = s->allm;
    s->lock.unlock();
    if (joined == ms.size()) break;
    for (; joined < ms.size(); joined++)
      if (ms[joined] != m0 && ms[joined]->thread.joinable()) ms[joined]->thread.join();
  }
  netpoll_stop();
  cpuprof_thread_stop(m0);
  overflow_handler_remove_thread(m0);
  tls_m = nullptr;
#if WEFT_SPLIT_STACK
  __splitstack_getcontext(m0_ss);
  m0_ss[3] = m0_guard;
  __splitstack_setcontext(m0_ss);
#endif

  // Timers still armed will never fire: their owners let go of them (an after_func's
  // function, a Ticker nobody stopped), while the fibers' stacks some live on exist.
  for (P* p : s->allp) timers_discard(p);
  registry_shutdown();  // counts leaked fibers, snapshots stats, frees every G
  for (M* m : ms) {
    systemstack_free(m);
    delete m;
  }
  for (P* p : s->allp) delete p;
  G* dummy = nullptr;
  while (s->runq.try_dequeue(dummy)) {
  }
  sched = nullptr;
  main_id = 0;
  delete s;
  stack_release_all();
  return 0;
}

}  // namespace weft::detail
