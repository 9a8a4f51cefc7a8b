// netpoll_hook.h: the seam between the scheduler and the network poller.
//
// The runtime knows nothing of sockets; netpoller/ installs a NetpollHook before run()
// starts fibers and the scheduler then uses it the way Go's proc.go uses netpoll:
//   - findrunnable() polls without blocking before it steals;
//   - the one M that waits while every P is idle blocks in poll() with a timeout equal
//     to the next timer deadline, instead of on a futex;
//   - poll_break() (an earlier timer, new work) interrupts that wait through wake();
//   - sysmon polls when nobody has for 10 ms.
// Without a hook the idle M sleeps on Sched::poll_note and the rest is skipped.
#pragma once

#include <cstdint>

namespace weft::detail {

struct G;

class NetpollHook {
 public:
  virtual ~NetpollHook() = default;
  // poll() waits up to delay_ns (< 0: until woken; 0: not at all) for I/O readiness
  // and returns the fibers it made runnable, linked through G::schedlink.
  virtual G* poll(std::int64_t delay_ns) = 0;
  // wake() makes a concurrent or the next blocking poll() return at once.
  virtual void wake() = 0;
};

// netpoll_install() sets the hook (nullptr removes it). Call before or between runs.
void netpoll_install(NetpollHook* hook);
NetpollHook* netpoller();
// netpoll_inject() polls and makes the returned fibers runnable: on the caller's P if
// it has one, else on the global queue. Returns how many.
int netpoll_inject(std::int64_t delay_ns);
// netpoll_take() polls and returns the fibers it found waiting, linked by schedlink,
// without making them runnable: for the M that blocked in the poller, which runs the
// first itself (see findrunnable).
G* netpoll_take(std::int64_t delay_ns);
// netpoll_ready() readies a list netpoll_take() returned. Returns how many.
int netpoll_ready(G* list);

// Process set-up done at run(): RLIMIT_NOFILE raised to its hard limit, as Go does.
void netpoll_raise_nofile();
void netpoll_start();
void netpoll_stop();

}  // namespace weft::detail
