// cpuprof.cpp: the CPU profiler (weft::profile::start_cpu / stop_cpu).
//
// Sampling. Each M has a POSIX timer on its own thread's CPU clock
// (pthread_getcpuclockid, i.e. CLOCK_THREAD_CPUTIME_ID of that thread) that sends SIGPROF
// to that thread (SIGEV_THREAD_ID) every 1/hz of CPU time it burns; an idle M costs
// nothing. start_cpu() arms one for every registered M, an M that starts during a profile
// arms its own, stop_cpu() and M exit delete them. Threads that are not Ms get no timer.
//
// The handler (on_sigprof) runs on the M's signal stack. It takes the interrupted %rip
// and %rbp from the ucontext, walks the frame chain inside the known stacks of that
// thread (stackwalk.h: the running fiber's stack, the M's g0 stack recorded at M start,
// its system stack and split-stack segments), and appends {pcs, fiber id, label set} to
// the M's ring: a fixed array with one producer (the handler: SIGPROF does not nest) and
// one consumer (whoever holds Prof::mu), so a full ring drops the sample and counts it.
// It allocates nothing, takes no lock, and calls nothing but inlined code (it also runs
// without split-stack prologues, on whatever guard the interrupted fiber had). A plain
// thread drains the rings every 50 ms into a map keyed by (stack, labels), so a profile
// can run for as long as it likes.
//
// Signals that outlive a profile. A timer's SIGPROF may still be pending when the timer
// is deleted (the kernel keeps a queued timer signal), so the handler stays installed
// after the first profile: our signals carry a cookie in si_value and are dropped when no
// profile runs; any other SIGPROF goes to the disposition we replaced (for SIG_DFL: the
// default action, by re-raising). Restoring the old handler at stop could let a late
// signal of ours reach SIG_DFL, which terminates the process.
//
// Generations. g_gen is odd while a profile runs; every ring entry carries the
// generation it was taken in, and a drain keeps only the current one's, so a sample
// that races with stop (or the next start) is never counted in the wrong profile.
#include "cpuprof.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "labelset.h"
#include "proc.h"
#include "profagg.h"
#include "ranked_mutex.h"
#include "stackwalk.h"
#include "systemstack.h"
#include "weft/profile.h"

#if WEFT_SPLIT_STACK
extern "C" void __splitstack_getcontext(void* context[10]);
#endif

namespace weft {
namespace detail {

namespace {

constexpr std::uint64_t kRingSize = 256;  // per M; drained every kDrainEvery
constexpr auto kDrainEvery = std::chrono::milliseconds(50);
constexpr int kMaxHz = 100000;
// The main thread's stack grows on demand: only this much below the stack pointer at M
// start is made (and trusted to be) mapped; its g0 frames live well within it.
constexpr std::size_t kMainThreadReach = 128 * 1024;

struct Entry {
  std::uint32_t gen;
  std::uint32_t n;
  FiberId fiber;
  LabelSet* labels;  // one reference, owned by the entry
  std::uintptr_t pcs[kMaxFrames];
};

struct Ring {
  std::atomic<std::uint64_t> head{0};  // consumer (Prof::mu)
  std::atomic<std::uint64_t> tail{0};  // producer (the handler on the M's thread)
  std::atomic<std::uint64_t> lost{0};
  Entry e[kRingSize];
};

// Per-M state, owned by the M's thread (created and freed there), listed in Prof.
struct ProfThread {
  M* m = nullptr;
  pid_t tid = 0;
  clockid_t clock{};
  bool clock_ok = false;
  std::uintptr_t g0_lo = 0, g0_hi = 0;
  std::atomic<Ring*> ring{nullptr};  // allocated by the first profile; kept until exit
  timer_t timer{};
  bool armed = false;  // Prof::mu
};

struct Prof {
  RankedMutex mu{LockRank::cpuprof};
  std::vector<ProfThread*> threads;
  bool installed = false;
  bool running = false;  // start..stop, stop included
  bool stopping = false;
  int hz = 0;
  std::int64_t period_ns = 0, start_wall = 0, start_mono = 0;
  std::uint64_t lost = 0;
  StackAgg agg;
  std::thread drainer;
  std::condition_variable_any cv;
  bool drainer_stop = false;
};
Prof& prof() {
  static Prof* p = new Prof;  // never destroyed: Ms and the drainer may run during exit
  return *p;
}

std::atomic<std::uint32_t> g_gen{0};  // odd while a profile runs
const int g_cookie = 0;               // &g_cookie tags our timers' signals
struct sigaction g_old_action {};     // SIGPROF's disposition before ours

thread_local ProfThread* t_prof __attribute__((tls_model("initial-exec"))) = nullptr;

// ---- the signal handler -----------------------------------------------------------------

// (no_split_stack must be on a declaration before the definition.)
WEFT_NO_SPLIT_STACK void chain(int sig, siginfo_t* info, void* uc);
WEFT_NO_SPLIT_STACK WEFT_RAW_READS void on_sigprof(int sig, siginfo_t* info, void* uc);
WEFT_NO_SPLIT_STACK __attribute__((noinline)) void touch_stack(std::size_t bytes);

// The handler's atomics are GCC builtins on the std::atomic's value (libstdc++ keeps it
// as the object's only member): std::atomic's own members are out-of-line calls at -O0,
// and a call from the handler would run a split-stack prologue on the signal stack.
template <class T>
WEFT_WALK_INLINE T* raw(std::atomic<T>& a);
template <class T>
inline T* raw(std::atomic<T>& a) {
  static_assert(sizeof(std::atomic<T>) == sizeof(T) && std::atomic<T>::is_always_lock_free);
  return reinterpret_cast<T*>(&a);
}

void chain(int sig, siginfo_t* info, void* uc) {
  const struct sigaction& old = g_old_action;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) old.sa_sigaction(sig, info, uc);
  } else if (old.sa_handler == SIG_DFL) {
    signal(sig, SIG_DFL);  // the default action (terminate), once we return
    raise(sig);
  } else if (old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
  }
}

void on_sigprof(int sig, siginfo_t* info, void* uc) {
  if (info->si_code != SI_TIMER || info->si_value.sival_ptr != &g_cookie) {
    chain(sig, info, uc);
    return;
  }
  ProfThread* pt = t_prof;
  if (!pt) return;  // this thread is no longer an M
  const std::uint32_t gen = __atomic_load_n(raw(g_gen), __ATOMIC_ACQUIRE);
  if (!(gen & 1)) return;  // a late signal of a stopped profile
  Ring* ring = __atomic_load_n(raw(pt->ring), __ATOMIC_ACQUIRE);
  if (!ring) return;
  const std::uint64_t t = __atomic_load_n(raw(ring->tail), __ATOMIC_RELAXED);
  if (t - __atomic_load_n(raw(ring->head), __ATOMIC_ACQUIRE) >= kRingSize) {
    __atomic_fetch_add(raw(ring->lost), 1, __ATOMIC_RELAXED);
    return;
  }
  Entry& e = ring->e[t % kRingSize];
  M* m = pt->m;
  G* g = __atomic_load_n(&m->curg, __ATOMIC_RELAXED);

  // This thread's own stacks: all mapped, read directly (no range is fault_safe here, so
  // the walk makes no call).
  StackRanges rs;
  if (g) rs.add(g->stack);
  rs.add(pt->g0_lo, pt->g0_hi);
#if WEFT_SPLIT_STACK
  if (m->system_stack) {
    const auto lo = reinterpret_cast<std::uintptr_t>(m->system_stack);
    rs.add(lo, lo + kSystemStackSize);
  }
  void* ss[10];
  __splitstack_getcontext(ss);  // no_split_stack; reads this thread's TLS
  add_split_segments(rs, ss[1], false);
#endif

  int n = 0;
#if defined(__x86_64__)
  const auto* mc = &static_cast<ucontext_t*>(uc)->uc_mcontext;
  e.pcs[n++] = static_cast<std::uintptr_t>(mc->gregs[REG_RIP]);
  n = fp_walk(static_cast<std::uintptr_t>(mc->gregs[REG_RBP]), rs, e.pcs, n, kMaxFrames);
#elif defined(__aarch64__)
  const auto* mc = &static_cast<ucontext_t*>(uc)->uc_mcontext;
  e.pcs[n++] = static_cast<std::uintptr_t>(mc->pc);
  n = fp_walk(static_cast<std::uintptr_t>(mc->regs[29]), rs, e.pcs, n, kMaxFrames);
#else
  (void)uc;
  (void)rs;
#endif
  e.n = static_cast<std::uint32_t>(n);
  e.gen = gen;
  e.fiber = g ? g->id : 0;
  // g runs on this thread and is interrupted: its set cannot be dropped under us.
  LabelSet* ls = g ? __atomic_load_n(raw(g->labels), __ATOMIC_RELAXED) : nullptr;
  if (ls) __atomic_fetch_add(raw(ls->refs), 1, __ATOMIC_RELAXED);
  e.labels = ls;
#if WEFT_TSAN
  __tsan_release(&e);  // this handler is not instrumented: tell TSan what tail publishes
#endif
  __atomic_store_n(raw(ring->tail), t + 1, __ATOMIC_RELEASE);
}

// ---- draining (REQUIRES: Prof::mu) -------------------------------------------------------

void drain_ring(Prof& p, Ring* r, bool keep) {
  if (!r) return;
  std::uint64_t h = r->head.load(std::memory_order_relaxed);
  const std::uint64_t t = r->tail.load(std::memory_order_acquire);
  const std::uint32_t gen = g_gen.load(std::memory_order_relaxed);
  for (; h != t; h++) {
    Entry& e = r->e[h % kRingSize];
#if WEFT_TSAN
    __tsan_acquire(&e);
#endif
    if (keep && e.gen == gen && (gen & 1))
      p.agg.add(e.pcs, static_cast<int>(e.n), e.labels, 1, p.period_ns, e.fiber);
    labelset_unref(e.labels);
    e.labels = nullptr;
  }
  r->head.store(t, std::memory_order_release);
  const std::uint64_t lost = r->lost.exchange(0, std::memory_order_relaxed);
  if (keep) p.lost += lost;
}

void drain_all(Prof& p, bool keep) {
  for (ProfThread* pt : p.threads) drain_ring(p, pt->ring.load(std::memory_order_relaxed), keep);
}

void drainer_main() {
  Prof& p = prof();
  std::unique_lock lock(p.mu);
  while (!p.drainer_stop) {
    p.cv.wait_for(lock, kDrainEvery);
    drain_all(p, true);
  }
}

// ---- timers (REQUIRES: Prof::mu) ---------------------------------------------------------

void arm(Prof& p, ProfThread* pt) {
  if (pt->armed || !pt->clock_ok) return;
  if (!pt->ring.load(std::memory_order_relaxed))
    pt->ring.store(new Ring, std::memory_order_release);
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev.sigev_value.sival_ptr = const_cast<int*>(&g_cookie);
  sev._sigev_un._tid = pt->tid;
  if (timer_create(pt->clock, &sev, &pt->timer) != 0) return;
  itimerspec its{};
  its.it_interval.tv_sec = p.period_ns / 1000000000;
  its.it_interval.tv_nsec = p.period_ns % 1000000000;
  its.it_value = its.it_interval;
  if (timer_settime(pt->timer, 0, &its, nullptr) != 0) {
    timer_delete(pt->timer);
    return;
  }
  pt->armed = true;
}

void disarm(ProfThread* pt) {
  if (!pt->armed) return;
  timer_delete(pt->timer);
  pt->armed = false;
}

void install_handler(Prof& p) {
  if (p.installed) return;
  sigaction(SIGPROF, nullptr, &g_old_action);  // before ours can run and chain to it
  struct sigaction sa {};
  sa.sa_sigaction = on_sigprof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, nullptr);
  p.installed = true;
}

// ---- the M's stack ------------------------------------------------------------------------

// touch_stack() makes the main thread's stack mapping reach `bytes` below here (a read
// per page: the kernel grows the stack VMA, backed by the zero page).
void touch_stack(std::size_t bytes) {
  char* p = static_cast<char*>(__builtin_alloca(bytes));
  asm volatile("" : "+r"(p));  // reading the untouched bytes is the point
  const volatile char* v = p;
  for (std::size_t off = bytes; off >= 4096; off -= 4096) (void)v[off - 4096];
  (void)v[0];
}

void thread_stack_bounds(std::uintptr_t* lo, std::uintptr_t* hi) {
  *lo = *hi = 0;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr = nullptr;
  std::size_t size = 0, guard = 0;
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_getguardsize(&attr, &guard);
  pthread_attr_destroy(&attr);
  std::uintptr_t l = reinterpret_cast<std::uintptr_t>(addr) + guard;  // guard or not
  const std::uintptr_t h = reinterpret_cast<std::uintptr_t>(addr) + size;
  if (syscall(SYS_gettid) == getpid()) {
    const auto sp =
        reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) & ~std::uintptr_t{4095};
    if (l < sp && sp - l > kMainThreadReach) l = sp - kMainThreadReach;
    if (l < sp) touch_stack(sp - l);
  }
  *lo = l;
  *hi = h;
}

}  // namespace

void cpuprof_thread_start(M* m) {
  auto* pt = new ProfThread;
  pt->m = m;
  pt->tid = static_cast<pid_t>(syscall(SYS_gettid));
  pt->clock_ok = pthread_getcpuclockid(pthread_self(), &pt->clock) == 0;
  thread_stack_bounds(&pt->g0_lo, &pt->g0_hi);
  Prof& p = prof();
  std::lock_guard lock(p.mu);
  p.threads.push_back(pt);
  t_prof = pt;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (p.running && !p.stopping) arm(p, pt);
}

void cpuprof_thread_stop(M*) {
  ProfThread* pt = t_prof;
  if (!pt) return;
  Prof& p = prof();
  Ring* ring;
  {
    std::lock_guard lock(p.mu);
    disarm(pt);
    t_prof = nullptr;  // a late signal on this thread is now dropped
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ring = pt->ring.load(std::memory_order_relaxed);
    drain_ring(p, ring, p.running);
    p.threads.erase(std::find(p.threads.begin(), p.threads.end(), pt));
  }
  delete ring;
  delete pt;
}

}  // namespace detail

namespace profile {

namespace {

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool start_impl(int hz) {
  using namespace detail;
  if (hz <= 0) return false;
  hz = std::min(hz, kMaxHz);
  Prof& p = prof();
  std::lock_guard lock(p.mu);
  if (p.running) return false;
  install_handler(p);
  drain_all(p, false);  // leftovers of the last profile's final signals
  p.agg.clear();
  p.lost = 0;
  p.hz = hz;
  p.period_ns = 1000000000 / hz;
  p.start_wall = wall_ns();
  p.start_mono = nanotime();
  p.running = true;
  p.stopping = false;
  p.drainer_stop = false;
  g_gen.store(g_gen.load(std::memory_order_relaxed) + 1, std::memory_order_release);  // odd
  for (ProfThread* pt : p.threads) arm(p, pt);
  p.drainer = std::thread(drainer_main);
  return true;
}

CpuProfile stop_impl() {
  using namespace detail;
  CpuProfile out;
  Prof& p = prof();
  std::unique_lock lock(p.mu);
  if (!p.running || p.stopping) return out;
  p.stopping = true;
  for (ProfThread* pt : p.threads) disarm(pt);
  p.drainer_stop = true;
  p.cv.notify_all();
  std::thread drainer = std::move(p.drainer);
  lock.unlock();
  drainer.join();
  lock.lock();
  // Keep what the rings hold for this generation, then close it: signals still pending
  // after the timers' deletion are dropped by the handler.
  drain_all(p, true);
  g_gen.store(g_gen.load(std::memory_order_relaxed) + 1, std::memory_order_release);  // even
  out.hz = p.hz;
  out.period_ns = p.period_ns;
  out.start_ns = p.start_wall;
  out.duration_ns = nanotime() - p.start_mono;
  out.lost = p.lost;
  out.samples = p.agg.samples();
  p.agg.clear();
  p.running = false;
  p.stopping = false;
  return out;
}

}  // namespace

bool start_cpu(int hz) {
  bool ok = false;
  detail::systemstack([&] { ok = start_impl(hz); });
  return ok;
}

CpuProfile stop_cpu() {
  CpuProfile out;
  detail::systemstack([&] { out = stop_impl(); });
  return out;
}

bool cpu_running() { return detail::g_gen.load(std::memory_order_relaxed) & 1; }

}  // namespace profile
}  // namespace weft
