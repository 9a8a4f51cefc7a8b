// net_fd.cpp: system calls that park instead of blocking. See net_fd.h.
#include "net_fd.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>

#include "poller.h"
#include "proc.h"
#include "sys.h"
#include "systemstack.h"

namespace weft::net::detail {

std::error_code errno_code(long neg_errno) {
  return {static_cast<int>(-neg_errno), std::system_category()};
}

std::int64_t to_nanotime(Deadline d) {
  if (d == Deadline{}) return 0;
  // steady_clock is CLOCK_MONOTONIC, the clock of the runtime's timers.
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count();
  return ns > 0 ? ns : 1;  // a time before the clock's start has passed: never "none"
}

namespace {
// Holds a call's reference (NetFd::acquire) until scope exit.
template <class F>
struct Defer {
  F f;
  ~Defer() { f(); }
};
template <class F>
Defer(F) -> Defer<F>;
}  // namespace

Result<NetFd*> NetFd::open(int fd, int family) {
  PollDesc* pd = pd_alloc(fd);
  if (std::error_code ec = Poller::get().open(fd, pd)) {
    pd_free(pd);
    sys::close(fd);
    return ec;
  }
  NetFd* nfd = nullptr;
  weft::detail::systemstack([&] { nfd = new NetFd(fd, family, pd); });
  return nfd;
}

NetFd::~NetFd() { destroy_fd(); }

bool NetFd::acquire() {
  refs_.fetch_add(1, std::memory_order_relaxed);
  if (calls_.fetch_add(1, std::memory_order_acq_rel) & kClosed) {
    release();
    return false;
  }
  return true;
}

void NetFd::drop_call() {
  // The last call of a closed socket closes the descriptor -- before it lets go of its
  // reference, so the object is still there while it does.
  if (calls_.fetch_sub(1, std::memory_order_acq_rel) - 1 == kClosed) destroy_fd();
}

void NetFd::release() {
  drop_call();
  unref();
}

void NetFd::unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void NetFd::release_owner() { unref(); }

void NetFd::destroy_fd() {
  if (fd_closed_.exchange(true, std::memory_order_acq_rel)) return;
  Poller::get().close(fd_);
  sys::close(fd_);
  pd_free(pd_);
}

std::error_code NetFd::close() {
  // A call of our own, so that the descriptor is not closed under us; the caller (the
  // owner, or a fiber using the owner's object) keeps the object alive.
  calls_.fetch_add(1, std::memory_order_acq_rel);
  if (calls_.fetch_or(kClosed, std::memory_order_acq_rel) & kClosed) {
    drop_call();
    return Error::closed;
  }
  weft::detail::G* woken = nullptr;
  pd_evict(pd_, &woken);
  drop_call();
  // Last, and without touching `this`: a woken fiber may return from its call and its
  // owner destroy this NetFd (Go programs close a listener from one goroutine while
  // another returns from Accept and exits; so may ours).
  pd_wake(woken);
  return {};
}

namespace {
std::error_code as_error(WaitResult r) {
  switch (r) {
    case WaitResult::ready:
      return {};
    case WaitResult::closing:
      return Error::closed;
    case WaitResult::timeout:
      return Error::timeout;
  }
  return {};
}
}  // namespace

std::error_code NetFd::wait(bool write) { return as_error(pd_wait(pd_, write)); }

std::error_code NetFd::check(bool write) { return as_error(pd_check(pd_, write)); }

Result<std::size_t> NetFd::read(void* buf, std::size_t len) {
  weft::detail::check_preempt();  // a socket that is always ready never parks
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  std::lock_guard lock(rmu_);
  if (std::error_code ec = check(false)) return ec;
  if (len == 0) return std::size_t{0};
  // A short read left the queue empty of data: data that came after it is a new event,
  // which pd_wait() finds (kReady is sticky) or waits for. A stale kReady, from an event
  // whose data that read took, costs the EAGAIN this saves. Not so the peer's end: its
  // FIN can come in the same event as the data (events that arrive before a poll are
  // reported once), and the short read leaves it behind with no event to come; hence
  // read_end, which the poller sets before it readies the slot.
  if (spill_len_ > 0) return take_spill(buf, len);
  if (drained()) {
    read_drained_ = false;
    if (std::error_code ec = wait(false)) return ec;
  }
  for (;;) {
    long n = read_syscall(buf, len);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return Error::eof;
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return errno_code(n);
    Poller::get().n_empty_reads.fetch_add(1, std::memory_order_relaxed);
    if (std::error_code ec = wait(false)) return ec;
  }
}

// read_syscall() reads once; on data it sets read_drained_, and leaves what went past
// len in the spill. REQUIRES: rmu_ held, the spill empty.
long NetFd::read_syscall(void* buf, std::size_t len) {
  if (len >= kSpill) {
    long n = sys::read(fd_, buf, len);
    if (n > 0) read_drained_ = static_cast<std::size_t>(n) < len;
    return n;
  }
  if (!spill_) weft::detail::systemstack([this] { spill_.reset(new char[kSpill]); });
  iovec iov[2] = {{buf, len}, {spill_.get(), kSpill}};
  long n = sys::readv(fd_, iov, 2);
  if (n <= 0) return n;
  const auto got = static_cast<std::size_t>(n);
  read_drained_ = got < len + kSpill;
  if (got <= len) return n;
  spill_off_ = 0;
  spill_len_ = static_cast<std::uint32_t>(got - len);
  return static_cast<long>(len);
}

// take_spill() serves a read from the spill. REQUIRES: rmu_ held, the spill not empty.
std::size_t NetFd::take_spill(void* buf, std::size_t len) {
  const std::size_t k = std::min<std::size_t>(len, spill_len_);
  std::memcpy(buf, spill_.get() + spill_off_, k);
  spill_off_ += static_cast<std::uint32_t>(k);
  spill_len_ -= static_cast<std::uint32_t>(k);
  return k;
}

namespace {
// read_would_return() tells whether a read would return at once: data, eof or an error (not
// EAGAIN).
bool read_would_return(int fd) {
  for (;;) {
    char c;
    long n = sys::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == -EINTR) continue;
    return n != -EAGAIN;
  }
}
}  // namespace

Result<bool> NetFd::readable() {
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  std::lock_guard lock(rmu_);
  if (spill_len_ > 0) return true;
  // After a short read, nothing new unless the poller has said so since.
  if (drained() && pd_->rg.load(std::memory_order_seq_cst) != PollDesc::kReady) return false;
  const bool ready = read_would_return(fd_);
  if (ready) read_drained_ = false;  // the next read must not wait for an edge it has had
  return ready;
}

std::error_code NetFd::wait_readable() {
  weft::detail::check_preempt();
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  std::lock_guard lock(rmu_);
  if (std::error_code ec = check(false)) return ec;
  if (spill_len_ > 0) return {};
  // Edge-triggered: the readiness that wait() consumes was set by the last edge, which
  // may predate data a previous read left behind; so look first, and wait only after a
  // look found nothing (the next arrival is then a new edge).
  // After a short read the queue was empty: wait first, then look (an event whose data
  // that read took leaves a stale kReady; the look sends us back to wait).
  if (drained())
    if (std::error_code ec = wait(false)) return ec;
  while (!read_would_return(fd_))
    if (std::error_code ec = wait(false)) return ec;
  read_drained_ = false;
  return {};
}

Result<std::size_t> NetFd::write(const void* buf, std::size_t len) {
  weft::detail::check_preempt();  // a socket that is always ready never parks
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  std::lock_guard lock(wmu_);
  if (std::error_code ec = check(true)) return ec;
  std::size_t sent = 0;
  while (sent < len) {
    // send(MSG_NOSIGNAL): a peer that went away is EPIPE, not a process-killing SIGPIPE.
    long n = sys::send(fd_, static_cast<const char*>(buf) + sent, len - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return errno_code(n);
    if (std::error_code ec = wait(true)) return ec;
  }
  return sent;
}

Result<std::size_t> NetFd::writev(std::span<const std::string_view> bufs) {
  weft::detail::check_preempt();  // a socket that is always ready never parks
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  std::lock_guard lock(wmu_);
  if (std::error_code ec = check(true)) return ec;
  constexpr std::size_t kBatch = 64;  // iovecs per sendmsg; IOV_MAX is 1024
  iovec iov[kBatch];
  std::size_t total = 0, next = 0, offset = 0;  // bufs[next] + offset: first unsent byte
  while (next < bufs.size()) {
    int cnt = 0;
    for (std::size_t i = next; i < bufs.size() && cnt < static_cast<int>(kBatch); i++) {
      std::size_t skip = i == next ? offset : 0;
      if (bufs[i].size() == skip) continue;
      iov[cnt].iov_base = const_cast<char*>(bufs[i].data() + skip);
      iov[cnt].iov_len = bufs[i].size() - skip;
      cnt++;
    }
    if (cnt == 0) break;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(cnt);
    long n = sys::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (n == -EINTR) continue;
      if (n != -EAGAIN) return errno_code(n);
      if (std::error_code ec = wait(true)) return ec;
      continue;
    }
    total += static_cast<std::size_t>(n);
    auto left = static_cast<std::size_t>(n);  // advance over what went out
    while (next < bufs.size() && left >= bufs[next].size() - offset) {
      left -= bufs[next].size() - offset;
      offset = 0;
      next++;
    }
    offset += left;
  }
  return total;
}

Result<int> NetFd::accept(Address* peer) {
  weft::detail::check_preempt();  // a socket that is always ready never parks
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  std::lock_guard lock(rmu_);
  if (std::error_code ec = check(false)) return ec;
  for (;;) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    long n =
        sys::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (n >= 0) {
      if (peer) *peer = Address(reinterpret_cast<sockaddr*>(&ss), len);
      return static_cast<int>(n);
    }
    // A connection reset before we took it: take the next one.
    if (n == -EINTR || n == -ECONNABORTED) continue;
    if (n != -EAGAIN) return errno_code(n);
    if (std::error_code ec = wait(false)) return ec;
  }
}

std::error_code NetFd::connect(const Address& addr, std::int64_t deadline_ns) {
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  long n = sys::connect(fd_, addr.data(), addr.size());
  if (n == 0) return {};
  if (n != -EINPROGRESS && n != -EINTR) return errno_code(n);
  if (deadline_ns != 0) pd_set_deadline(pd_, deadline_ns, false, true);
  Defer clear{[&] {
    if (deadline_ns != 0) pd_set_deadline(pd_, 0, false, true);
  }};
  for (;;) {
    if (std::error_code ec = wait(true)) return ec;
    int err = 0;
    socklen_t len = sizeof err;
    if (long r = sys::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len); r < 0)
      return errno_code(r);
    if (err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
    if (err != 0) return {err, std::system_category()};
    // Writable with no error can still be a spurious wake-up: connected only if there
    // is a peer.
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (sys::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) return {};
  }
}

std::error_code NetFd::shutdown(int how) {
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  if (long r = sys::shutdown(fd_, how); r < 0) return errno_code(r);
  return {};
}

std::error_code NetFd::set_deadline(std::int64_t when_ns, bool read, bool write) {
  if (!acquire()) return Error::closed;
  Defer done{[this] { release(); }};
  pd_set_deadline(pd_, when_ns, read, write);
  return {};
}

}  // namespace weft::net::detail
