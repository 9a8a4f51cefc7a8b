// netpoll_epoll.cpp: the Linux backend (see poller.h).
//
// Every socket is added once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and its PollDesc
// as the event's data: edge-triggered readiness maps one to one onto the descriptor's
// sticky kReady slots. wake() writes an eventfd, registered level-triggered; a flag keeps
// concurrent wake()s to one write until the blocking poll that sees it reads it back.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "g.h"
#include "poll_desc.h"
#include "poller.h"

namespace weft::net::detail {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd_ < 0 || evfd_ < 0) {
      std::perror("weft::net: epoll_create1/eventfd");
      std::abort();
    }
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: see poll()
    ev.data.ptr = &wake_tag_;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) != 0) {
      std::perror("weft::net: epoll_ctl(eventfd)");
      std::abort();
    }
  }

  std::error_code open(int fd, PollDesc* pd) override {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = pd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return {errno, std::system_category()};
    n_registered.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  void close(int fd) override {
    epoll_event ev{};
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
    n_registered.fetch_sub(1, std::memory_order_relaxed);
  }

  // wait() is epoll_wait with a nanosecond timeout (epoll_pwait2, Linux 5.11): a timer
  // due in 100 µs fires then, not at the next millisecond -- Go's netpoller rounds up
  // to 1 ms, so a 100 µs sleep there takes ~1 ms when the runtime is idle. Older kernels
  // (ENOSYS) get epoll_wait with the delay rounded up to whole milliseconds.
  int wait(epoll_event* events, int max, std::int64_t delay_ns) {
    if (have_pwait2_.load(std::memory_order_relaxed)) {
      timespec ts{static_cast<time_t>(delay_ns / 1'000'000'000),
                  static_cast<long>(delay_ns % 1'000'000'000)};
      int n = epoll_pwait2(epfd_, events, max, delay_ns < 0 ? nullptr : &ts, nullptr);
      if (n >= 0 || errno != ENOSYS) return n;
      have_pwait2_.store(false, std::memory_order_relaxed);
    }
    int timeout_ms;
    if (delay_ns < 0)
      timeout_ms = -1;
    else if (delay_ns == 0)
      timeout_ms = 0;
    else if (delay_ns < 1'000'000'000'000LL)
      timeout_ms = static_cast<int>((delay_ns + 999'999) / 1'000'000);
    else
      timeout_ms = 1'000'000;
    return epoll_wait(epfd_, events, max, timeout_ms);
  }

  weft::detail::G* poll(std::int64_t delay_ns) override {
    // Nobody waits for I/O: a non-blocking poll has nothing to find (a readiness edge
    // stays recorded in the kernel until the next epoll_wait).
    if (delay_ns == 0 && pd_waiters.load(std::memory_order_seq_cst) == 0) return nullptr;
    epoll_event events[128];
    int n = wait(events, 128, delay_ns);
    if (n < 0) {
      if (errno != EINTR) {
        std::perror("weft::net: epoll_wait");
        std::abort();
      }
      return nullptr;
    }
    weft::detail::G* list = nullptr;
    for (int i = 0; i < n; i++) {
      const epoll_event& ev = events[i];
      if (ev.data.ptr == &wake_tag_) {
        // Only the blocking poll, the one wake() is meant for, consumes the wake-up: a
        // non-blocking poll that took it would leave that one asleep. The eventfd is
        // level-triggered, so it stays reported until then. Drain, then clear the flag:
        // a wake() in between is dropped, which is right -- this poll is returning.
        if (delay_ns != 0) {
          std::uint64_t v;
          while (read(evfd_, &v, sizeof v) > 0) {
          }
          wake_pending_.store(false, std::memory_order_seq_cst);
        }
        continue;
      }
      auto* pd = static_cast<PollDesc*>(ev.data.ptr);
      const std::uint32_t e = ev.events;
      const bool err = e & (EPOLLERR | EPOLLHUP);
      if (err || (e & EPOLLRDHUP)) pd->read_end.store(true, std::memory_order_seq_cst);
      pd_ready(pd, err || (e & (EPOLLIN | EPOLLRDHUP)), err || (e & EPOLLOUT), &list);
    }
    return polled(delay_ns, list);
  }

  void wake() override {
    if (wake_pending_.exchange(true, std::memory_order_seq_cst)) return;
    n_wakes.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t one = 1;
    while (write(evfd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

 private:
  int epfd_ = -1, evfd_ = -1;
  // Cleared on ENOSYS (kernels before 5.11). Off under TSan: GCC 12's libtsan does not
  // intercept epoll_pwait2, so it would miss the happens-before edge from epoll_ctl
  // (a descriptor registered) to the wait that reports it, and report false races.
#if defined(__SANITIZE_THREAD__)
  std::atomic<bool> have_pwait2_{false};
#else
  std::atomic<bool> have_pwait2_{true};
#endif
  char wake_tag_ = 0;
  std::atomic<bool> wake_pending_{false};
};

}  // namespace

Poller* make_poller() { return new EpollPoller; }

}  // namespace weft::net::detail
