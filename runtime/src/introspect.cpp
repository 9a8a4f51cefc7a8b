// introspect.cpp: snapshots of fibers and scheduler counters (weft/introspect.h).
#include "weft/introspect.h"

#include <mutex>

#include "proc.h"
#include "ranked_mutex.h"
#include "registry.h"
#include "systemstack.h"

namespace weft {

const char* to_string(WaitReason r) {
  switch (r) {
    case WaitReason::none:
      return "";
    case WaitReason::chan_receive:
      return "chan receive";
    case WaitReason::chan_send:
      return "chan send";
    case WaitReason::select:
      return "select";
    case WaitReason::sleep:
      return "sleep";
    case WaitReason::timer:
      return "timer wait";
    case WaitReason::mutex:
      return "sync.Mutex.Lock";
    case WaitReason::rwmutex_read:
      return "sync.RWMutex.RLock";
    case WaitReason::rwmutex_write:
      return "sync.RWMutex.Lock";
    case WaitReason::cond:
      return "sync.Cond.Wait";
    case WaitReason::waitgroup:
      return "sync.WaitGroup.Wait";
    case WaitReason::semaphore:
      return "semacquire";
    case WaitReason::once:
      return "sync.Once.Do";
    case WaitReason::io:
      return "IO wait";
  }
  return "?";
}

const char* to_string(FiberState s) {
  switch (s) {
    case FiberState::runnable:
      return "runnable";
    case FiberState::running:
      return "running";
    case FiberState::waiting:
      return "waiting";
    case FiberState::syscall:
      return "syscall";
  }
  return "?";
}

namespace detail {

// fiber_info() describes g if it is live (started, not finished); false otherwise.
// The fiber runs on meanwhile: state, reason and time are each read atomically,
// identity under the G's ident_lock (a G may be recycled under our feet).
bool fiber_info(G* g, FiberInfo* out) {
  FiberState st;
  switch (g->status.load(std::memory_order_acquire)) {
    case GStatus::runnable:
      st = FiberState::runnable;
      break;
    case GStatus::running:
      st = FiberState::running;
      break;
    case GStatus::waiting:
      st = FiberState::waiting;
      break;
    case GStatus::syscall:
      st = FiberState::syscall;
      break;
    default:
      return false;
  }
  const WaitReason reason = g->wait_reason.load(std::memory_order_relaxed);
  const std::int64_t since = g->status_since.load(std::memory_order_relaxed);
  spin_lock(g->ident_lock, LockRank::ident);
  *out = FiberInfo{g->id,
                   g->name,
                   st,
                   st == FiberState::waiting ? reason : WaitReason::none,
                   g->site.file_name(),
                   g->site.line(),
                   g->site.function_name(),
                   since};
  spin_unlock(g->ident_lock);
  return true;
}

}  // namespace detail

std::vector<FiberInfo> fibers() {
  std::vector<FiberInfo> out;
  if (!detail::sched) return out;
  detail::systemstack([&] {
    detail::registry_each([&](detail::G* g) {
      FiberInfo info;
      if (detail::fiber_info(g, &info)) out.push_back(std::move(info));
    });
  });
  return out;
}

namespace detail {

namespace {
RankedMutex g_last_mu{LockRank::stats};
SchedStats g_last;

SchedStats collect() {
  SchedStats st;
  Sched* s = sched;
  st.procs = s->nprocs;
  st.idle_procs = s->npidle.load();
  st.threads = s->nm.load();
  st.spinning = s->nmspinning.load();
  st.global_runq = s->runqsize.load();
  st.live_fibers = registry_live();
  for (P* p : s->allp) {
    ProcStats ps;
    ps.id = p->id;
    ps.runq_len = p->runq.size() + (p->runnext.load(std::memory_order_relaxed) ? 1 : 0);
    ps.spawned = p->n_spawned.load(std::memory_order_relaxed);
    ps.switches = p->n_switches.load(std::memory_order_relaxed);
    ps.steals = p->n_steals.load(std::memory_order_relaxed);
    ps.global_takes = p->n_global_takes.load(std::memory_order_relaxed);
    st.spawned += ps.spawned;
    st.switches += ps.switches;
    st.steals += ps.steals;
    st.stolen += p->n_stolen.load(std::memory_order_relaxed);
    st.global_takes += ps.global_takes;
    st.per_proc.push_back(ps);
  }
  st.parks = s->n_parks.load();
  st.wakeups = s->n_wakeups.load();
  st.handoffs = s->n_handoffs.load();
  st.preempt_requests = s->n_preempt_requests.load();
  st.preemptions = s->n_preemptions.load();
  st.sysmon_ticks = s->n_sysmon_ticks.load();
  st.timer_fires = s->n_timer_fires.load();
  st.stacks_allocated = s->n_stacks.load();
  st.stack_trims = s->n_stack_trims.load();
  st.stack_trimmed_bytes = s->n_stack_trimmed.load();
  st.poll_spin_hits = s->n_poll_spin_hits.load();
  st.stack_kind = detail::stack_kind();
  return st;
}
}  // namespace

void stats_freeze(std::uint64_t leaked) {
  SchedStats st = collect();
  st.leaked_at_exit = leaked;
  st.live_fibers = 0;
  std::lock_guard lock(g_last_mu);
  g_last = std::move(st);
}

}  // namespace detail

SchedStats stats() {
  SchedStats st;
  detail::systemstack([&] {
    if (detail::sched) {
      st = detail::collect();
      return;
    }
    std::lock_guard lock(detail::g_last_mu);
    st = detail::g_last;
  });
  return st;
}

}  // namespace weft
