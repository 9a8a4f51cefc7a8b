// netpoll_kqueue.cpp: the BSD/macOS backend (see poller.h).
//
// Every socket is added once with EVFILT_READ and EVFILT_WRITE, EV_CLEAR (kqueue's edge
// trigger) and its PollDesc as udata. wake() writes a byte to a non-blocking pipe whose
// read end is registered level-triggered, so that only the blocking poll consumes it
// (as in netpoll_epoll.cpp).
//
// This file is compiled only where <sys/event.h> exists; the project's CI runs on Linux,
// so it has never run there. It is written against the same tests as the epoll backend
// (tests/net/), which are the check to run on a BSD or macOS machine.
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "g.h"
#include "poll_desc.h"
#include "poller.h"

namespace weft::net::detail {
namespace {

class KqueuePoller final : public Poller {
 public:
  KqueuePoller() {
    kq_ = kqueue();
    if (kq_ < 0) {
      std::perror("weft::net: kqueue");
      std::abort();
    }
    if (::pipe(wake_) != 0) {
      std::perror("weft::net: pipe");
      std::abort();
    }
    for (int fd : wake_) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    struct kevent ev;
    EV_SET(&ev, wake_[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);
    if (kevent(kq_, &ev, 1, nullptr, 0, nullptr) != 0) {
      std::perror("weft::net: kevent(wake pipe)");
      std::abort();
    }
  }

  std::error_code open(int fd, PollDesc* pd) override {
    struct kevent ev[2];
    EV_SET(&ev[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, pd);
    EV_SET(&ev[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, pd);
    if (kevent(kq_, ev, 2, nullptr, 0, nullptr) != 0) return {errno, std::system_category()};
    n_registered.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  // Closing the fd removes its events from the kqueue.
  void close(int) override { n_registered.fetch_sub(1, std::memory_order_relaxed); }

  weft::detail::G* poll(std::int64_t delay_ns) override {
    if (delay_ns == 0 && pd_waiters.load(std::memory_order_seq_cst) == 0) return nullptr;
    struct timespec ts, *tsp = nullptr;
    if (delay_ns >= 0) {
      if (delay_ns > 1'000'000'000'000LL) delay_ns = 1'000'000'000'000LL;
      ts.tv_sec = delay_ns / 1'000'000'000;
      ts.tv_nsec = delay_ns % 1'000'000'000;
      tsp = &ts;
    }
    struct kevent events[128];
    int n = kevent(kq_, nullptr, 0, events, 128, tsp);
    if (n < 0) {
      if (errno != EINTR) {
        std::perror("weft::net: kevent");
        std::abort();
      }
      return nullptr;
    }
    weft::detail::G* list = nullptr;
    for (int i = 0; i < n; i++) {
      const struct kevent& ev = events[i];
      if (ev.udata == nullptr) {  // the wake pipe
        if (delay_ns != 0) {
          char buf[16];
          while (read(wake_[0], buf, sizeof buf) > 0) {
          }
          wake_pending_.store(false, std::memory_order_seq_cst);
        }
        continue;
      }
      auto* pd = static_cast<PollDesc*>(ev.udata);
      const bool err = ev.flags & EV_ERROR;
      if (err || (ev.filter == EVFILT_READ && (ev.flags & EV_EOF)))
        pd->read_end.store(true, std::memory_order_seq_cst);
      pd_ready(pd, err || ev.filter == EVFILT_READ, err || ev.filter == EVFILT_WRITE, &list);
    }
    return polled(delay_ns, list);
  }

  void wake() override {
    if (wake_pending_.exchange(true, std::memory_order_seq_cst)) return;
    n_wakes.fetch_add(1, std::memory_order_relaxed);
    char b = 0;
    while (write(wake_[1], &b, 1) < 0 && errno == EINTR) {
    }
  }

 private:
  int kq_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> wake_pending_{false};
};

}  // namespace

Poller* make_poller() { return new KqueuePoller; }

}  // namespace weft::net::detail
