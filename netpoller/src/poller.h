// poller.h: the OS readiness backend behind the runtime's netpoll seam.
//
// One Poller per process, created by the first socket and installed into the scheduler
// as its NetpollHook (runtime/src/netpoll_hook.h): from then on a P with no work polls
// it without blocking before it steals, the M that waits while every P is idle blocks
// in it until the next timer, and sysmon polls it when nobody has for 10 ms.
//
// Backends (one is compiled in, chosen by the platform):
//   netpoll_epoll.cpp   Linux: epoll, edge-triggered; an eventfd interrupts a wait.
//   netpoll_kqueue.cpp  BSD/macOS: kqueue, EV_CLEAR; an EVFILT_USER event interrupts.
// Both register a socket once, for reading and writing, when it is opened, and report
// readiness through pd_ready() (poll_desc.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <system_error>

#include "netpoll_hook.h"

namespace weft::net::detail {

struct PollDesc;

class Poller : public weft::detail::NetpollHook {
 public:
  // get() returns the process's poller, creating and installing it on first use.
  static Poller& get();

  // open() registers fd (non-blocking already) with pd as its descriptor.
  virtual std::error_code open(int fd, PollDesc* pd) = 0;
  // close() unregisters fd. Call before closing it.
  virtual void close(int fd) = 0;

  // Counters for weft::net::poller_stats() (relaxed). A backend counts registrations
  // and wake() calls, and passes each poll's result through polled().
  std::atomic<std::int64_t> n_registered{0};
  std::atomic<std::uint64_t> n_polls{0}, n_blocking_polls{0}, n_woken{0}, n_wakes{0};
  std::atomic<std::uint64_t> n_empty_reads{0};  // counted by NetFd::read

 protected:
  weft::detail::G* polled(std::int64_t delay_ns, weft::detail::G* list);
};

// make_poller() creates the platform's backend (defined by the backend's file).
Poller* make_poller();

}  // namespace weft::net::detail
