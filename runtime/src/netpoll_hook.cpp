// netpoll_hook.cpp: the scheduler side of the poller seam (see netpoll_hook.h).
#include "netpoll_hook.h"

#include <sys/resource.h>

#include <atomic>

#include "proc.h"
#include "trace.h"

namespace weft::detail {

namespace {
std::atomic<NetpollHook*> g_hook{nullptr};
}

void netpoll_install(NetpollHook* hook) {
  g_hook.store(hook, std::memory_order_seq_cst);
  // An M may be asleep on poll_note until the next timer: from now on poll_break()
  // interrupts the poller instead, so wake it to wait there.
  if (Sched* s = sched) s->poll_note.wakeup();
}

NetpollHook* netpoller() { return g_hook.load(std::memory_order_acquire); }

G* netpoll_take(std::int64_t delay_ns) {
  NetpollHook* hook = netpoller();
  if (!hook) return nullptr;
  G* list = hook->poll(delay_ns);
  sched->last_poll.store(nanotime(), std::memory_order_relaxed);
  if (list && trace_enabled()) {  // before the unparks it causes
    std::uint64_t count = 0;
    for (G* g = list; g; g = g->schedlink) count++;
    trace_emit(EventKind::netpoll_wake, 0, count, 0, WaitReason::none, kTraceAutoP);
  }
  return list;
}

int netpoll_inject(std::int64_t delay_ns) { return netpoll_ready(netpoll_take(delay_ns)); }

int netpoll_ready(G* list) {
  int n = 0;
  while (list) {
    G* g = list;
    list = g->schedlink;
    g->schedlink = nullptr;
    ready(g);
    n++;
  }
  return n;
}

void netpoll_raise_nofile() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void netpoll_start() {}
void netpoll_stop() {}

}  // namespace weft::detail
