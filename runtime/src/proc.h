// proc.h: the G/M/P scheduler (after Go's proc.go).
//
//   G  a fiber (g.h).
//   M  an OS thread. Runs fibers when it holds a P; parks on its Note otherwise.
//      Its own thread stack is "g0": the scheduler loop runs there.
//   P  a processor: the right to run fibers, and the state that goes with it (a local
//      run queue, the runnext slot, a timer heap, a free-G cache). There are exactly
//      `procs` Ps; an M needs one to run Go code. Ms may outnumber Ps while some Ms are
//      blocked in weft::blocking().
//
// Where a runnable G waits, in the order schedule() looks:
//   1. every kFairnessPeriod-th (61st) schedule, the global queue first (fairness: it
//      cannot starve);
//   2. P.runnext: the G most recently readied by this P's running G. It runs next and
//      inherits the time slice, so a producer/consumer pair ping-pongs on one core;
//   3. P.runq: FIFO, except that go() puts the sibling its new G displaces from runnext
//      at the front, so a tree of fibers runs depth first (spawn_put() in proc.cpp);
//   4. the global queue (a moodycamel ConcurrentQueue), taking a batch;
//   5. the netpoller, if one is installed (netpoll_hook.h), without blocking;
//   6. stealing: up to 4 rounds over the other Ps in random order, taking half of a
//      victim's queue (its runnext too, on the last round) and running its due timers.
//
// Spinning and wake-up protocol (Go's). An M looking for work to steal is "spinning";
// Sched::nmspinning counts them. Whoever makes work ready calls wakep(), which starts an
// M only if there is an idle P and no M is spinning: at most one spinning M is woken per
// burst of new work. A spinning M that finds work stops spinning and, if it was the last
// spinner, calls wakep() itself, so parallelism ramps up one M at a time. An M that
// gives up first releases its P and stops spinning, then re-checks every run queue and
// the global queue (all seq_cst) before parking, so a concurrent wakep() and its
// decision to park cannot both miss the work.
//
// Switching. A fiber that parks or yields switches directly to the next runnable G of
// its P when there is one (one jump), and to its M's g0 otherwise. What must happen
// *after* the old fiber is off its stack (requeue it, mark it waiting and release the
// lock it parked under, free it) travels in M::post and is done by whoever is resumed
// (post_switch()). This is Go's mcall(park_m) without the detour through g0.
// The direct path must still give what schedule() gives: every kFairnessPeriod-th direct
// switch of a P looks
// at the global queue and at the P's timers (a due timer sends the switch through g0),
// and a pending preemption request ends an inherited time slice there (the runnext G
// loses its place to the tail of the run queue), so two fibers that switch straight to
// each other cannot starve timers, the global queue or the netpoller.
//
// Locks (ranks: lock_rank.h): Sched::lock (sched) guards the idle P and M lists and
// allm; Sched::gfree_lock (gfree) the global free-G batches; P::timer_lock
// (proc_timers) a P's timer heap. None is held while running fibers or timers.
//
// Run queues: a P's runnext, ring, free-G cache and the fields marked "owner" are
// touched only by the M that holds the P (P::m == getm(): checked in runq_put(),
// runq_get() and execute_prep() where checks are on); thieves only take, by CAS.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "concurrentqueue/concurrentqueue.h"
#include "g.h"
#include "note.h"
#include "runq.h"
#include "spinlock.h"
#include "timer.h"
#include "weft/runtime.h"

namespace weft::detail {

// kFairnessPeriod is Go's 61: every 61st schedule (schedtick) looks at the global queue
// first, every 61st direct switch of a P (P::switch_budget) at the global queue and the
// P's timers, and 61 Gs from the ring's front in a row let the oldest G behind them run
// (runq_get_ring()).
inline constexpr std::uint32_t kFairnessPeriod = 61;

enum class PStatus : std::uint8_t {
  idle,     // in Sched's idle list, no M
  running,  // owned by an M running fibers or the scheduler
  syscall,  // its M is in weft::blocking(); sysmon may retake it
};

struct alignas(64) P {
  int id = 0;
  std::atomic<PStatus> status{PStatus::idle};
  M* m = nullptr;
  P* link = nullptr;                              // idle list
  std::atomic<std::uint32_t> schedtick{0};        // schedules not inherited from runnext
  std::atomic<bool> preempt{false};               // sysmon: the running G exceeded 10 ms
  std::uint32_t switch_budget = kFairnessPeriod;  // direct switches until the next look (owner)
  std::atomic<std::uint32_t> syscalltick{0};      // incremented per blocking() call
  Runq runq;
  std::atomic<G*> runnext{nullptr};
  std::uint32_t front_run = 0;  // Gs from the ring's front run in a row (owner; runq_get)
  // Free dead Gs (with their stacks), owner only; overflow goes to Sched::gfree.
  G* gfree = nullptr;
  int ngfree = 0;
  // Fiber ids are handed out in batches to keep go() off a shared counter.
  std::uint64_t goid_next = 0, goid_end = 0;
  // Timers.
  SpinLock timer_lock{LockRank::proc_timers};
  TimerHeap timers;                     // guarded by timer_lock
  std::atomic<std::int64_t> timer0{0};  // earliest deadline in `timers`, 0 if none
  // sysmon's observations (sysmon thread only).
  std::uint32_t sysmon_schedtick = 0;
  std::uint64_t sysmon_switches = 0;  // n_switches at sysmon's last tick
  std::int64_t sysmon_schedwhen = 0;
  std::uint32_t sysmon_syscalltick = 0;
  std::int64_t sysmon_syscallwhen = 0;
  // Counters: written by the owner, read racily by stats().
  std::atomic<std::uint64_t> n_spawned{0}, n_switches{0}, n_steals{0}, n_stolen{0},
      n_global_takes{0};
  std::atomic<std::int64_t> n_live{0};  // fibers started here minus fibers ended here
};

// Post-switch actions (see the header comment).
enum class PostKind : std::uint8_t {
  none,
  yield_local,   // put prev at the tail of this P's run queue
  yield_global,  // put prev on the global queue (preemption, exit_blocking without a P)
  park,          // prev is now waiting: run its unlock function
  exit,          // prev finished: recycle it
};

struct M {
  int id = 0;
  pid_t tid = 0;
  Context g0;                      // the thread's own stack
  G* curg = nullptr;               // running fiber, nullptr when on g0
  P* p = nullptr;                  // attached P (nullptr while parked or in blocking())
  std::atomic<P*> nextp{nullptr};  // P handed over by startm()
  P* oldp = nullptr;               // P left behind by enter_blocking()
  bool spinning = false;
  Note park;
  M* link = nullptr;  // idle list
  std::thread thread;
  SwitchRecord rec;  // the record passed through this M's jumps
  PostKind post = PostKind::none;
  G* post_g = nullptr;
  std::uint64_t fastrand = 0;
  void* altstack = nullptr;      // signal stack (overflow handler, SIGPROF: cpuprof.cpp)
  stack_t old_altstack{};        // the thread's previous one (a sanitizer's), restored
  void* system_stack = nullptr;  // systemstack.h (segmented stacks only)
  bool on_system_stack = false;
};

// The global run queue. Any thread may put (Ms, sysmon, a foreign thread readying a G);
// Ms take from it in batches. See the TSan note in proc.cpp.
using GlobalRunq = moodycamel::ConcurrentQueue<G*>;

struct Sched {
  int nprocs = 0;
  std::vector<P*> allp;
  SpinLock lock{LockRank::sched};
  // Guarded by lock:
  P* pidle = nullptr;
  M* midle = nullptr;
  std::vector<M*> allm;
  // Lock-free:
  std::atomic<int> npidle{0};
  std::atomic<std::uint64_t> n_pidlegets{0};  // Ps taken from the idle list, ever
  std::atomic<int> nmspinning{0};
  std::atomic<int> nm{0};
  GlobalRunq runq;
  std::atomic<std::int64_t> runqsize{0};
  std::atomic<bool> stopping{false};
  // The M blocked waiting for timers (or the netpoller) when every P is idle.
  std::atomic<bool> poller_busy{false};
  std::atomic<std::int64_t> poll_until{0};  // its deadline, 0 if none
  Note poll_note;                           // used when no netpoller is installed
  std::atomic<std::int64_t> last_poll{0};   // now_ns() of the last netpoll
  // Free Gs overflowing the Ps' caches, in batches; guarded by gfree_lock.
  SpinLock gfree_lock{LockRank::gfree};
  struct GBatch {
    G* head;
    int n;
  };
  std::vector<GBatch> gfree_batches;
  // sysmon
  std::thread sysmon;
  Note sysmon_note;
  std::atomic<bool> sysmon_sleeping{false};
  // coarse_now() as of sysmon's last tick, or of its wake-up from deep sleep: the time
  // park() stamps a wait with (G::status_since): a load where reading the clock was a
  // visible share of an unbuffered channel round trip (measured: docs/benchmarks.md,
  // sixth session); at most one sysmon delay (10 ms) old while fibers run.
  std::atomic<std::int64_t> clock{0};
  // Counters for rare events.
  std::atomic<std::uint64_t> n_parks{0}, n_wakeups{0}, n_handoffs{0}, n_preempt_requests{0},
      n_preemptions{0}, n_sysmon_ticks{0}, n_timer_fires{0}, n_stacks{0};
  std::int64_t stack_trim_after = 0;  // ns a fiber waits before its stack is trimmed; 0: never
  std::int64_t poll_spin = 0;  // ns the poller M polls before it sleeps (poll_spin); 0: never
  std::atomic<std::uint64_t> n_poll_spin_hits{0};  // spins that found I/O
  std::atomic<std::uint64_t> n_stack_trims{0},
      n_stack_trimmed{0};  // stack_trim_pass: fibers, bytes
};

// The running runtime; nullptr when none.
extern Sched* sched;

// getm() returns the calling thread's M (nullptr off the runtime). Deliberately opaque
// to the optimizer (noipa): a fiber may resume on another thread, and a cached TLS
// address would then name the old thread's M. Never cache its result across a call
// that may switch.
M* getm();
// getg() is getm()->curg, or nullptr.
inline G* getg() {
  M* m = getm();
  return m ? m->curg : nullptr;
}

// park() parks the calling fiber with `reason`: for a wait that commits in a callback
// (the Waiter handshake, a sleep's timer). After the switch, on the next context,
// commit(g, arg) runs; if it returns false the park is cancelled and g runs again.
// The fiber returns from park() after someone calls ready(g). (A channel's plain send or
// receive parks with switch.h's park_releasing() instead.)
// REQUIRES: running on a fiber; commit is not null; no runtime lock held (checked).
void park(WaitReason reason, bool (*commit)(G*, void*), void* arg);
// ready() makes a waiting g runnable, in this P's runnext slot: for any waker, on any
// thread. `partner`: g is the other half of a hand-off (a channel's sender or receiver):
// if another ready() then displaces g from runnext into the ring, thieves leave it to
// this P for kHotNs. REQUIRES: g is waiting and the caller won the right to wake it; no
// wait_list or timer_state lock held (checked).
void ready(G* g, bool partner = false);
// gosched() is yield() to the given queue. REQUIRES: m is getm(), running a fiber.
void gosched(M* m, bool global);
// check_preempt() honours a pending preemption request. Cheap; called where a fiber
// passes through the runtime without parking: go(), yield() and maybe_yield(),
// sleep_for() of no time, Mutex's slow lock and unlock paths, a condition wait whose
// deadline has passed, and socket calls that find the socket ready (net_fd.cpp).
void check_preempt();
// wakep() starts a spinning M if there is an idle P and nobody spins.
void wakep();
// kHotNs: a G that a hand-off displaced from runnext into its P's ring is left to that P
// this long (proc.cpp, runq_steal()).
inline constexpr std::int64_t kHotNs = 50'000;
// runq_steal() moves half of victim's queue into p's and returns one G to run; nullptr
// if there is none, or if the first in line is still hot on victim at `now` (0: the
// clock, read only for a partner). REQUIRES: the caller holds p.
G* runq_steal(P* p, P* victim, bool steal_runnext, std::int64_t now = 0);
// hot_until() is when the G first in p's ring stops being hot (a displaced hand-off
// partner, left to p by thieves for kHotNs), or 0 if it is not hot or there is none,
// at time `now` (0: nanotime(), read only if the first G is such a partner).
std::int64_t hot_until(const P* p, std::int64_t now = 0);
// poll_break() wakes the M blocked until the next timer (an earlier timer was added).
void poll_break();
// globrunq_put() appends g to the global run queue and wakes an M if needed.
void globrunq_put(G* g);

std::int64_t nanotime();
// coarse_now() is a cheap, ~4 ms resolution monotonic clock for "time in state".
std::int64_t coarse_now();
// tick_now() is coarse_now() as sysmon last read it (Sched::clock): cheaper, coarser.
inline std::int64_t tick_now() { return sched->clock.load(std::memory_order_relaxed); }

// newproc() is go(): see weft/runtime.h.
// newproc() moves from fn and name (on the system stack: moving a string may call libc).
FiberId newproc(Function& fn, std::string& name, std::source_location site);
// run_runtime() is run(): see weft/runtime.h.
int run_runtime(Function main_fn, Options opts);
void enter_blocking_impl();
void exit_blocking_impl();
// handoffp() gives a P that sysmon retook from a blocking call to an M, or idles it.
void handoffp(P* p);

// Provided by sysmon.cpp.
void sysmon_start(Sched* s);
void sysmon_wake(Sched* s);
// Provided by stack/signal code.
void overflow_handler_install_thread(M* m);
void overflow_handler_remove_thread(M* m);
[[noreturn]] void fatal(const char* msg);

}  // namespace weft::detail
