// trace.cpp: the scheduler event trace (weft/trace.h, hooks in trace.h).
//
// Rings. Each thread that is an M writes to a ring of its own (one writer, no lock):
// `events_per_m` Events, overwriting the oldest when full; `n` counts every event
// written, so n - cap were lost. The thread finds its ring through two thread-locals,
// the ring and the trace session it was claimed in. Rings are claimed on a thread's
// first event of a session: from the spares start() allocated (one per M then), or
// newly allocated (an M started during the trace). Threads that are not Ms (sysmon, a
// foreign thread calling ready()) share one ring under a spin lock.
//
// Sessions. `g_gen` numbers them: odd while a trace runs, even otherwise; every start()
// and stop() increments it. Ring structs are never freed (they go back to a pool at
// stop(), their buffers are freed), so a thread's thread-local ring pointer always
// points at valid memory, even when stale.
//
// Stopping safely. A writer brackets its write with an in-progress count on its ring:
//     ring->busy += 1 (seq_cst);  if (g_gen == my session) write;  ring->busy -= 1 (release)
// and stop() does
//     g_gen += 1 (seq_cst);  for each ring: wait until busy == 0 (seq_cst, acquire).
// In the single total order of seq_cst operations, either a writer's increment comes
// before stop() reads its ring's count -- then stop() waits for the decrement, which
// releases the writes -- or after, and then the writer's read of g_gen comes after the
// increment and it writes nothing. A count, not a flag: a thread with a stale ring may
// bump the count of a ring that has since been handed to another thread (then sees the
// new session number and backs out); a flag would let it clear the owner's mark.
#include "trace.h"

#include <algorithm>
#include <unordered_set>
#include <utility>
#include <vector>

#include "proc.h"
#include "registry.h"
#include "spinlock.h"
#include "systemstack.h"

namespace weft {

namespace detail {

constinit std::atomic<bool> trace_on{false};

namespace {

using trace::Event;

struct alignas(64) Ring {
  std::atomic<std::uint32_t> busy{0};  // writers inside their write (see above)
  Event* buf = nullptr;
  std::size_t cap = 0;
  std::uint64_t n = 0;   // events written, lost ones included
  Ring* link = nullptr;  // in a session's list, its spares, or the pool
};

struct Session {
  std::uint64_t gen = 0;
  std::size_t cap = 0;
  std::int64_t start_ns = 0;
  Ring* rings = nullptr;                                // claimed by a thread
  Ring* spares = nullptr;                               // allocated by start(), not yet claimed
  std::vector<std::pair<FiberId, std::string>> exited;  // names of fibers that ended
};

// The shared ring of threads that are not Ms. Its buffer belongs to session `gen`.
struct SharedRing {
  std::atomic<std::uint32_t> lock{0};
  Event* buf = nullptr;
  std::size_t cap = 0;
  std::uint64_t n = 0;
  std::uint64_t gen = 0;
};

constexpr std::size_t kSharedCapMax = 1 << 14;
constexpr std::size_t kMaxSpares = 256;

std::atomic<std::uint64_t> g_gen{0};
// 0 idle, 1 starting, 2 running, 3 stopping: one start() or stop() at a time.
std::atomic<int> g_state{0};
std::atomic<std::uint32_t> g_lock{0};  // guards g_session, its lists, g_pool
Session* g_session = nullptr;
Ring* g_pool = nullptr;
SharedRing g_shared;

thread_local Ring* t_ring = nullptr;
thread_local std::uint64_t t_gen = 0;
thread_local bool t_sysmon = false;

// new_ring() takes a ring struct from the pool (or makes one) with a fresh buffer.
// REQUIRES: system stack; g_lock not held.
Ring* new_ring(std::size_t cap) {
  spin_lock(g_lock, LockRank::trace_session);
  Ring* r = g_pool;
  if (r) g_pool = r->link;
  spin_unlock(g_lock);
  if (!r) r = new Ring;
  r->buf = new Event[cap];
  r->cap = cap;
  r->n = 0;
  r->link = nullptr;
  return r;
}

// retire_ring() frees the buffer and pools the struct. REQUIRES: no writer can write.
void retire_ring(Ring* r) {
  delete[] r->buf;
  r->buf = nullptr;
  r->cap = 0;
  r->n = 0;
  spin_lock(g_lock, LockRank::trace_session);
  r->link = g_pool;
  g_pool = r;
  spin_unlock(g_lock);
}

// claim() gives the calling M a ring for session `gen`; nullptr if it has ended.
Ring* claim(std::uint64_t gen) {
  Ring* r = nullptr;
  systemstack([&] {
    std::size_t cap = 0;
    spin_lock(g_lock, LockRank::trace_session);
    if (Session* s = g_session; s && s->gen == gen) {
      cap = s->cap;
      if ((r = s->spares)) {
        s->spares = r->link;
        r->link = s->rings;
        s->rings = r;
      }
    }
    spin_unlock(g_lock);
    if (r || cap == 0) return;
    Ring* fresh = new_ring(cap);
    spin_lock(g_lock, LockRank::trace_session);
    if (Session* s = g_session; s && s->gen == gen) {
      fresh->link = s->rings;
      s->rings = fresh;
      r = fresh;
    }
    spin_unlock(g_lock);
    if (!r) retire_ring(fresh);
  });
  return r;
}

void put(Event* buf, std::size_t cap, std::uint64_t& n, const Event& e) {
  buf[n % cap] = e;
  n++;
}

// drain() appends a ring's events, oldest first, and returns how many were lost.
std::uint64_t drain(const Event* buf, std::size_t cap, std::uint64_t n, std::vector<Event>& out) {
  if (!buf || n == 0) return 0;
  if (n <= cap) {
    out.insert(out.end(), buf, buf + n);
    return 0;
  }
  const std::size_t first = n % cap;
  out.insert(out.end(), buf + first, buf + cap);
  out.insert(out.end(), buf, buf + first);
  return n - cap;
}

}  // namespace

void trace_emit(EventKind kind, FiberId fiber, std::uint64_t arg, std::uint64_t arg2,
                WaitReason reason, int p) {
  const std::uint64_t gen = g_gen.load(std::memory_order_acquire);
  if ((gen & 1) == 0) return;  // no session (the fast-path flag was stale)
  M* m = getm();
  Event e;
  e.ts_ns = nanotime();
  e.kind = kind;
  e.reason = reason;
  if (p == kTraceAutoP) p = m && m->p ? m->p->id : -1;
  e.p = static_cast<std::int16_t>(p);
  e.m = m ? m->id : t_sysmon ? -2 : -1;
  e.fiber = fiber;
  e.arg = arg;
  e.arg2 = arg2;
  if (!m) {
    spin_lock(g_shared.lock, LockRank::trace_ring);
    if (g_shared.gen == gen) put(g_shared.buf, g_shared.cap, g_shared.n, e);
    spin_unlock(g_shared.lock);
    return;
  }
  if (t_gen != gen) {
    Ring* r = claim(gen);
    if (!r) return;
    t_ring = r;
    t_gen = gen;
  }
  Ring* r = t_ring;
  r->busy.fetch_add(1, std::memory_order_seq_cst);
  if (g_gen.load(std::memory_order_seq_cst) == gen) put(r->buf, r->cap, r->n, e);
  r->busy.fetch_sub(1, std::memory_order_release);
}

void trace_fiber_exit(FiberId id, const std::string& name) {
  if (name.empty()) return;
  std::pair<FiberId, std::string> item(id, name);
  spin_lock(g_lock, LockRank::trace_session);
  if (g_session) g_session->exited.push_back(std::move(item));
  spin_unlock(g_lock);
}

void trace_thread_is_sysmon() { t_sysmon = true; }

}  // namespace detail

namespace trace {

const char* to_string(EventKind k) {
  switch (k) {
    case EventKind::fiber_create:
      return "fiber_create";
    case EventKind::fiber_run:
      return "fiber_run";
    case EventKind::fiber_stop:
      return "fiber_stop";
    case EventKind::fiber_park:
      return "fiber_park";
    case EventKind::fiber_unpark:
      return "fiber_unpark";
    case EventKind::steal:
      return "steal";
    case EventKind::handoff:
      return "handoff";
    case EventKind::blocking_enter:
      return "blocking_enter";
    case EventKind::blocking_exit:
      return "blocking_exit";
    case EventKind::netpoll_wake:
      return "netpoll_wake";
    case EventKind::m_park:
      return "m_park";
    case EventKind::m_unpark:
      return "m_unpark";
    case EventKind::stack_free:
      return "stack_free";
  }
  return "?";
}

bool start(std::size_t events_per_m) {
  using namespace detail;
  int idle = 0;
  if (!g_state.compare_exchange_strong(idle, 1, std::memory_order_acq_rel)) return false;
  systemstack([&] {
    const std::size_t cap = std::max<std::size_t>(events_per_m, 1);
    auto* s = new Session;
    s->cap = cap;
    // One ring per M now; Ms started later allocate theirs at their first event.
    std::size_t ms = 1;
    if (Sched* sc = sched)
      ms = static_cast<std::size_t>(std::max(1, sc->nm.load(std::memory_order_relaxed)));
    ms = std::min(ms, kMaxSpares);
    for (std::size_t i = 0; i < ms; i++) {
      Ring* r = new_ring(cap);
      r->link = s->spares;
      s->spares = r;
    }
    const std::size_t shared_cap = std::min(cap, kSharedCapMax);
    auto* shared_buf = new Event[shared_cap];
    s->start_ns = nanotime();
    spin_lock(g_lock, LockRank::trace_session);
    const std::uint64_t gen = g_gen.load(std::memory_order_relaxed) + 1;  // odd
    s->gen = gen;
    g_session = s;
    spin_lock(g_shared.lock, LockRank::trace_ring);
    g_shared.buf = shared_buf;
    g_shared.cap = shared_cap;
    g_shared.n = 0;
    g_shared.gen = gen;
    spin_unlock(g_shared.lock);
    g_gen.store(gen, std::memory_order_seq_cst);
    spin_unlock(g_lock);
  });
  trace_on.store(true, std::memory_order_seq_cst);
  g_state.store(2, std::memory_order_release);
  return true;
}

Trace stop() {
  using namespace detail;
  Trace out;
  int running = 2;
  if (!g_state.compare_exchange_strong(running, 3, std::memory_order_acq_rel)) return out;
  systemstack([&] {
    trace_on.store(false, std::memory_order_seq_cst);
    spin_lock(g_lock, LockRank::trace_session);
    Session* s = g_session;
    g_session = nullptr;
    g_gen.fetch_add(1, std::memory_order_seq_cst);  // even: writers back out from here on
    spin_unlock(g_lock);
    out.start_ns = s->start_ns;
    out.end_ns = nanotime();

    // Wait for writers inside a write, then read every ring.
    for (Ring* r = s->rings; r; r = r->link)
      for (int spins = 0; r->busy.load(std::memory_order_seq_cst) != 0; spins++)
        spins < 64 ? cpu_relax() : static_cast<void>(leaf_sched_yield());
    for (Ring* r = s->rings; r; r = r->link) out.lost += drain(r->buf, r->cap, r->n, out.events);
    spin_lock(g_shared.lock, LockRank::trace_ring);
    Event* shared_buf = g_shared.buf;
    out.lost += drain(shared_buf, g_shared.cap, g_shared.n, out.events);
    g_shared.buf = nullptr;
    g_shared.cap = 0;
    g_shared.n = 0;
    g_shared.gen = 0;
    spin_unlock(g_shared.lock);
    delete[] shared_buf;
    for (Ring* r = s->rings; r;) {
      Ring* next = r->link;
      retire_ring(r);
      r = next;
    }
    for (Ring* r = s->spares; r;) {
      Ring* next = r->link;
      retire_ring(r);
      r = next;
    }
    // Each ring is in time order; a stable sort keeps a thread's order among equal stamps.
    std::stable_sort(out.events.begin(), out.events.end(),
                     [](const Event& a, const Event& b) { return a.ts_ns < b.ts_ns; });

    // Names: of the fibers that ended during the trace, and of the live ones seen.
    std::unordered_set<FiberId> seen;
    for (const Event& e : out.events)
      if (e.fiber != 0) seen.insert(e.fiber);
    for (auto& [id, name] : s->exited)
      if (seen.erase(id)) out.fiber_names.emplace_back(id, std::move(name));
    registry_each([&](G* g) {
      const GStatus st = g->status.load(std::memory_order_acquire);
      if (st == GStatus::idle || st == GStatus::dead) return;
      spin_lock(g->ident_lock, LockRank::ident);
      if (!g->name.empty() && seen.count(g->id)) out.fiber_names.emplace_back(g->id, g->name);
      spin_unlock(g->ident_lock);
    });
    std::sort(out.fiber_names.begin(), out.fiber_names.end());
    delete s;
  });
  g_state.store(0, std::memory_order_release);
  return out;
}

bool running() { return detail::g_state.load(std::memory_order_acquire) == 2; }

}  // namespace trace

}  // namespace weft
