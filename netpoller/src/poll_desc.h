// poll_desc.h: the per-socket readiness state shared by fibers and the poller (Go's
// pollDesc, runtime/netpoll.go).
//
// Every socket is registered with the OS poller once, edge-triggered, when it is
// opened; its PollDesc then holds one read slot and one write slot. A slot is
//   0            nothing happened and nobody waits,
//   kReady       the poller reported readiness that no fiber has consumed yet,
//   a Waiter*    the one fiber parked until the socket is ready (reads and writes
//                are each serialized above this layer, so there is never a second).
// A fiber that gets EAGAIN calls pd_wait(): it consumes kReady if it is there (and
// retries its system call), else publishes its Waiter and parks. The poller, a deadline
// timer and close() each take the Waiter out of the slot with one atomic exchange, so
// exactly one of them wakes the fiber -- the Waiter handshake (runtime/src/waiter.h)
// makes a wake-up that comes before the park impossible to lose.
//
// Readiness is edge-triggered: kReady is sticky until consumed, so an event that arrives
// between EAGAIN and the publish is never lost either; a spurious kReady costs one
// extra system call that returns EAGAIN.
//
// Deadlines: each direction has a deadline (0: none, -1: passed) and at most one armed
// runtime timer. Resetting a deadline bumps the direction's sequence number, so a timer
// from before the reset that is already firing sees a stale number and does nothing.
// PollDescs are never freed, only recycled (Go does the same): a stale timer or a late
// event for a reused descriptor finds valid memory and a sequence number that no longer
// matches.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {
struct G;
struct Timer;
}  // namespace weft::detail

namespace weft::net::detail {

struct DeadlineTimer;

struct PollDesc {
  static constexpr std::uintptr_t kReady = 1;

  int fd = -1;
  std::atomic<std::uintptr_t> rg{0}, wg{0};  // read and write slots (see above)
  std::atomic<bool> closing{false};
  // The poller has seen the peer's end (EPOLLRDHUP/HUP/ERR, kqueue's EV_EOF): reads will
  // return at once from now on. Set before the read slot is readied, so the reader that
  // wakes sees it; NetFd::read() never waits for an edge after it (see net_fd.cpp).
  std::atomic<bool> read_end{false};
  // Guarded by `lock` (a spin word: the timer callback runs on the scheduler):
  std::atomic<std::uint32_t> lock{0};
  std::atomic<std::int64_t> rd{0}, wd{0};  // deadlines, nanotime() clock; -1 passed
  DeadlineTimer* rt = nullptr;             // armed read / write deadline timers
  DeadlineTimer* wt = nullptr;
  std::uint64_t rseq = 0, wseq = 0;  // bumped by every deadline reset and by reuse
  PollDesc* next_free = nullptr;
};

enum class WaitResult { ready, closing, timeout };

// pd_alloc() returns a clean PollDesc for fd; pd_free() recycles it once the fd is
// closed and no fiber can be using it.
PollDesc* pd_alloc(int fd);
void pd_free(PollDesc* pd);

// pd_wait() parks the calling fiber until the direction is ready (or was since the last
// wait), its deadline passes, or the descriptor is closing. `write` picks the direction.
WaitResult pd_wait(PollDesc* pd, bool write);
// pd_check() reports closing or a passed deadline without waiting (ready otherwise).
WaitResult pd_check(PollDesc* pd, bool write);

// pd_ready() is the poller's side: mark the directions ready and add the fibers that
// were waiting on them to *list (linked through G::schedlink).
void pd_ready(PollDesc* pd, bool read, bool write, weft::detail::G** list);

// pd_set_deadline() sets the read and/or write deadline (nanotime() clock; 0 none).
// A deadline in the past wakes the waiting fiber at once.
void pd_set_deadline(PollDesc* pd, std::int64_t when_ns, bool read, bool write);

// pd_evict() marks the descriptor closing and adds both waiters to *list, for the caller
// to wake with pd_wake() once it is done with whatever object owns the descriptor: a
// woken fiber may go on to destroy it.
void pd_evict(PollDesc* pd, weft::detail::G** list);
void pd_wake(weft::detail::G* list);

// Waiters on any descriptor: the poller skips its non-blocking system call when zero.
extern std::atomic<std::int64_t> pd_waiters;

}  // namespace weft::net::detail
