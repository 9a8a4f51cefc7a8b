// sysmon.cpp: the system monitor, an OS thread that runs without a P (Go's sysmon).
//
// Each tick it:
//   - retakes Ps stuck in a blocking call (weft::blocking) for more than one tick
//     (>= 20 µs) and hands them to another M (handoffp), so a blocking call never
//     stalls the fibers queued behind it;
//   - flags the P whose fiber has run for more than 10 ms without rescheduling; the
//     fiber yields at its next runtime call (check_preempt) -- cooperative, as Go was
//     before 1.14's signal-based preemption;
//   - starts an M when a timer is overdue and nobody is looking (every P busy with a
//     long-running fiber, or idle Ps whose timers nobody watches);
//   - polls the network when nobody has for 10 ms (netpoll_hook.h);
//   - gives back the stack pages below the stack pointer of fibers parked for longer
//     than Options::stack_trim_after_ms (stack_trim.cpp), once a second at most;
//   - with WEFT_SCHEDTRACE=<ms>, prints a scheduler summary line to stderr every <ms>.
// The tick starts at 20 µs and doubles after 1 ms without anything to do, up to 10 ms.
// When every P has been idle for 10 ms sysmon sleeps on its note until the next timer
// or until an M takes a P (pidleget), so an idle runtime makes no wake-ups at all (with
// WEFT_SCHEDTRACE set, that sleep ends at the next line due as well; and once, stack_trim_after
// after the last fiber switch, for a last trimming pass).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "netpoll_hook.h"
#include "proc.h"
#include "stack_trim.h"
#include "trace.h"
#include "weft/introspect.h"

namespace weft::detail {

namespace {

constexpr std::int64_t kForcePreemptNs = 10'000'000;  // 10 ms
constexpr std::int64_t kPollIntervalNs = 10'000'000;
constexpr std::int64_t kQuietNs = 10'000'000;  // idle this long before a deep sleep

void usleep_ns(std::int64_t ns) {
  struct timespec ts {
    static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)
  };
  nanosleep(&ts, nullptr);
}

bool any_syscall(Sched* s) {
  for (P* p : s->allp)
    if (p->status.load(std::memory_order_relaxed) == PStatus::syscall) return true;
  return false;
}

// retake() returns how many Ps it retook, flagged or woke a thief for.
int retake(Sched* s, std::int64_t now) {
  int n = 0;
  for (P* p : s->allp) {
    PStatus st = p->status.load(std::memory_order_seq_cst);
    if (st == PStatus::running) {
      // A fiber readied to runnext (ready() woke nobody for it) while the P's fiber has
      // not switched since the last tick: it is not going to park soon. Or a hot G
      // (ready() woke nobody for it either) has cooled in the P's ring. Let an M steal it.
      const std::uint64_t sw = p->n_switches.load(std::memory_order_relaxed);
      const bool stuck_next =
          sw == p->sysmon_switches && p->runnext.load(std::memory_order_seq_cst);
      if ((stuck_next || (!p->runq.empty() && hot_until(p) == 0)) &&
          s->npidle.load(std::memory_order_seq_cst) > 0 &&
          s->nmspinning.load(std::memory_order_seq_cst) == 0) {
        wakep();
        n++;
      }
      p->sysmon_switches = sw;
      std::uint32_t t = p->schedtick.load(std::memory_order_relaxed);
      if (p->sysmon_schedtick != t) {
        p->sysmon_schedtick = t;
        p->sysmon_schedwhen = now;
      } else if (now - p->sysmon_schedwhen >= kForcePreemptNs) {
        if (!p->preempt.exchange(true, std::memory_order_relaxed))
          s->n_preempt_requests.fetch_add(1, std::memory_order_relaxed);
        p->sysmon_schedwhen = now;  // one request per 10 ms slice
        n++;
      }
    } else if (st == PStatus::syscall) {
      std::uint32_t t = p->syscalltick.load(std::memory_order_relaxed);
      if (p->sysmon_syscalltick != t) {
        // First sight of this blocking call: give it one tick to return.
        p->sysmon_syscalltick = t;
        p->sysmon_syscallwhen = now;
        continue;
      }
      // Leave it alone if there is nothing for the P to do and other Ms are around to
      // pick up new work -- unless the call has been going on for 10 ms.
      if (p->runq.empty() && !p->runnext.load(std::memory_order_relaxed) &&
          s->nmspinning.load() + s->npidle.load() > 0 &&
          now - p->sysmon_syscallwhen < kForcePreemptNs)
        continue;
      PStatus expect = PStatus::syscall;
      if (p->status.compare_exchange_strong(expect, PStatus::idle, std::memory_order_seq_cst)) {
        s->n_handoffs.fetch_add(1, std::memory_order_relaxed);
        trace_event(EventKind::handoff, 0, p->m ? static_cast<std::uint64_t>(p->m->id) : 0, 0,
                    WaitReason::none, p->id);
        handoffp(p);
        n++;
      }
    }
  }
  return n;
}

std::uint64_t total_switches(Sched* s) {
  std::uint64_t n = 0;
  for (P* p : s->allp) n += p->n_switches.load(std::memory_order_relaxed);
  return n;
}

// Trimmer paces stack_trim_pass(): a pass at most once per min(stack_trim_after, 1 s)
// while fibers run, and when the runtime goes idle, one more pass stack_trim_after
// after the last switch (every fiber then parked has waited long enough), then none.
struct Trimmer {
  std::int64_t after = 0;        // Sched::stack_trim_after
  std::int64_t next_pass = 0;    // nanotime() of the next periodic pass
  std::int64_t last_pass = 0;    // nanotime() of the last pass
  std::uint64_t switches = 0;    // total_switches() when last looked at
  std::int64_t last_change = 0;  // nanotime() when that count last moved

  void tick(Sched* s, std::int64_t now) {
    if (after <= 0) return;
    const std::uint64_t sw = total_switches(s);
    if (sw != switches) {
      switches = sw;
      last_change = now;
    }
    if (now >= next_pass) {
      stack_trim_pass(coarse_now());
      last_pass = now;
      next_pass = now + std::min<std::int64_t>(after, 1'000'000'000);
    }
  }
  // idle_deadline() is when the idle runtime still needs a pass; 0: it does not.
  std::int64_t idle_deadline() const {
    if (after <= 0 || last_pass >= last_change + after) return 0;
    return std::max(last_change + after, next_pass);
  }
};

std::int64_t next_timer(Sched* s) {
  std::int64_t next = 0;
  for (P* p : s->allp) {
    std::int64_t w = p->timer0.load(std::memory_order_relaxed);
    if (w != 0 && (next == 0 || w < next)) next = w;
  }
  return next;
}

// WEFT_SCHEDTRACE=<ms>: the interval in ns, 0 if unset or malformed.
std::int64_t schedtrace_interval() {
  const char* v = std::getenv("WEFT_SCHEDTRACE");
  if (!v || !*v) return 0;
  char* end = nullptr;
  long long ms = std::strtoll(v, &end, 10);
  if (!end || *end != '\0' || ms <= 0 || ms > 3'600'000) return 0;
  return static_cast<std::int64_t>(ms) * 1'000'000;
}

// schedtrace_line() prints Go's schedtrace line:
//   SCHED 1004ms: procs=2 idleprocs=1 threads=4 spinning=0 globrunq=0 runq=[0 3] fibers=12
void schedtrace_line(std::int64_t since_start_ns) {
  const SchedStats st = stats();
  std::string line =
      "SCHED " + std::to_string(since_start_ns / 1'000'000) +
      "ms: procs=" + std::to_string(st.procs) + " idleprocs=" + std::to_string(st.idle_procs) +
      " threads=" + std::to_string(st.threads) + " spinning=" + std::to_string(st.spinning) +
      " globrunq=" + std::to_string(st.global_runq) + " runq=[";
  for (std::size_t i = 0; i < st.per_proc.size(); i++) {
    if (i) line += ' ';
    line += std::to_string(st.per_proc[i].runq_len);
  }
  line += "] fibers=" + std::to_string(st.live_fibers) + "\n";
  if (write(2, line.data(), line.size()) < 0) {
  }
}

// schedtrace: the WEFT_SCHEDTRACE interval (0: off); started: when run() began.
void sysmon_loop(Sched* s, std::int64_t schedtrace, std::int64_t started) {
  trace_thread_is_sysmon();
  std::int64_t schedtrace_next = started + schedtrace;  // unused when schedtrace == 0
  std::int64_t delay = 20'000;
  int idle = 0;
  std::int64_t quiet = 0;       // ns the runtime has been idle, as the ticks saw it
  std::uint64_t gets_seen = 0;  // Sched::n_pidlegets at the last tick
  Trimmer trimmer;
  trimmer.after = s->stack_trim_after;
  trimmer.next_pass = started + std::min<std::int64_t>(trimmer.after, 1'000'000'000);
  trimmer.last_change = started;
  while (!s->stopping.load(std::memory_order_acquire)) {
    if (idle == 0)
      delay = 20'000;
    else if (idle > 50)
      delay = std::min<std::int64_t>(delay * 2, 10'000'000);
    usleep_ns(delay);
    s->clock.store(coarse_now(), std::memory_order_relaxed);
    // Deep sleep once the whole runtime has been idle for kQuietNs: idle at every tick,
    // and no P taken in between. Not at the first idle tick: a server at a moderate
    // rate goes idle between any two requests, and each deep sleep costs a futex wake
    // when the next request takes a P (pidleget), on that request's path.
    const bool all_idle = s->npidle.load(std::memory_order_seq_cst) == s->nprocs && !any_syscall(s);
    const std::uint64_t gets = s->n_pidlegets.load(std::memory_order_relaxed);
    quiet = all_idle && gets == gets_seen ? quiet + delay : 0;
    gets_seen = gets;
    if (all_idle && quiet >= kQuietNs) {
      s->sysmon_sleeping.store(true, std::memory_order_seq_cst);
      if (s->npidle.load(std::memory_order_seq_cst) == s->nprocs &&
          !s->stopping.load(std::memory_order_acquire)) {
        std::int64_t next = next_timer(s);
        if (schedtrace != 0 && (next == 0 || schedtrace_next < next)) next = schedtrace_next;
        if (std::int64_t t = trimmer.idle_deadline(); t != 0 && (next == 0 || t < next)) next = t;
        s->sysmon_note.sleep_until_ns(next == 0 ? -1 : next);
      }
      s->clock.store(coarse_now(), std::memory_order_relaxed);
      s->sysmon_sleeping.store(false, std::memory_order_seq_cst);
      s->sysmon_note.clear();
      idle = 0;
      quiet = 0;
      gets_seen = s->n_pidlegets.load(std::memory_order_relaxed);
    }
    s->n_sysmon_ticks.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t now = nanotime();
    if (schedtrace != 0 && now >= schedtrace_next) {
      schedtrace_line(now - started);
      schedtrace_next += schedtrace;
      if (schedtrace_next <= now) schedtrace_next = now + schedtrace;  // no burst after a stall
    }
    // An overdue timer with idle Ps and nobody spinning: nobody is going to run it --
    // unless the poller M sleeps until that very deadline and is on its way (its wake-up
    // takes tens of µs on a VM; waking another M meanwhile is a wasted thread switch).
    std::int64_t next = next_timer(s);
    const std::int64_t until = s->poll_until.load(std::memory_order_seq_cst);
    const bool watched = until != 0 && until <= next;
    if (next != 0 && next < now && !watched && s->npidle.load() > 0 && s->nmspinning.load() == 0)
      wakep();
    if (netpoller() && now - s->last_poll.load(std::memory_order_relaxed) > kPollIntervalNs &&
        s->npidle.load() < s->nprocs) {
      s->last_poll.store(now, std::memory_order_relaxed);
      // Fibers readied here go to the global queue (sysmon has no P).
      netpoll_inject(0);
    }
    trimmer.tick(s, now);
    if (retake(s, now) > 0)
      idle = 0;
    else
      idle++;
  }
}

}  // namespace

void sysmon_start(Sched* s) {
  s->sysmon = std::thread(sysmon_loop, s, schedtrace_interval(), nanotime());
}

void sysmon_wake(Sched* s) {
  if (s->sysmon_sleeping.load(std::memory_order_seq_cst)) {
    s->clock.store(coarse_now(), std::memory_order_relaxed);  // stale after a deep sleep
    s->sysmon_note.wakeup();
  }
}

}  // namespace weft::detail
