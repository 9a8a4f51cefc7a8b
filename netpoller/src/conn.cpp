// conn.cpp: connections, listeners, dialing and pipes on NetFd (net_fd.h).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "g.h"
#include "net_fd.h"
#include "poll_desc.h"
#include "poller.h"
#include "sys.h"
#include "weft/net.h"
#include "weft/runtime.h"

namespace weft::net {

using detail::NetFd;

namespace {

Result<NetFd*> new_socket(int family) {
  long fd = sys::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return detail::errno_code(fd);
  return NetFd::open(static_cast<int>(fd), family);
}

std::error_code setopt(NetFd* fd, int level, int opt, int value) {
  if (!fd) return Error::closed;
  if (long r = sys::setsockopt(fd->fd(), level, opt, &value, sizeof value); r < 0)
    return detail::errno_code(r);
  return {};
}

Address sockname(NetFd* fd, bool peer) {
  if (!fd) return {};
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  long r = peer ? sys::getpeername(fd->fd(), sa, &len) : sys::getsockname(fd->fd(), sa, &len);
  if (r < 0) return {};
  return Address(sa, len);
}

void destroy(NetFd*& fd) {
  if (!fd) return;
  fd->close();
  std::exchange(fd, nullptr)->release_owner();
}

}  // namespace

// ---- Conn --------------------------------------------------------------------------

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    destroy(fd_);
    fd_ = std::exchange(o.fd_, nullptr);
  }
  return *this;
}

Conn::~Conn() { destroy(fd_); }

Result<std::size_t> Conn::read(void* buf, std::size_t len) {
  if (!fd_) return Error::closed;
  return fd_->read(buf, len);
}

Result<bool> Conn::readable() {
  if (!fd_) return Error::closed;
  return fd_->readable();
}

std::error_code Conn::wait_readable() {
  if (!fd_) return Error::closed;
  return fd_->wait_readable();
}

Result<std::size_t> Conn::read_full(void* buf, std::size_t len) {
  return detail::read_full_with([this](void* b, std::size_t n) { return read(b, n); }, buf, len);
}

Result<std::size_t> Conn::write(const void* buf, std::size_t len) {
  if (!fd_) return Error::closed;
  return fd_->write(buf, len);
}

Result<std::size_t> Conn::write_all(std::span<const std::string_view> bufs) {
  if (!fd_) return Error::closed;
  return fd_->writev(bufs);
}

std::error_code Conn::shutdown_write() { return fd_ ? fd_->shutdown(SHUT_WR) : Error::closed; }
std::error_code Conn::shutdown_read() { return fd_ ? fd_->shutdown(SHUT_RD) : Error::closed; }
std::error_code Conn::close() { return fd_ ? fd_->close() : Error::closed; }

std::error_code Conn::set_deadline(Deadline d) {
  return fd_ ? fd_->set_deadline(detail::to_nanotime(d), true, true) : Error::closed;
}
std::error_code Conn::set_read_deadline(Deadline d) {
  return fd_ ? fd_->set_deadline(detail::to_nanotime(d), true, false) : Error::closed;
}
std::error_code Conn::set_write_deadline(Deadline d) {
  return fd_ ? fd_->set_deadline(detail::to_nanotime(d), false, true) : Error::closed;
}

Address Conn::local_addr() const { return sockname(fd_, false); }
Address Conn::remote_addr() const { return sockname(fd_, true); }
int Conn::native_handle() const { return fd_ ? fd_->fd() : -1; }

std::error_code TcpConn::set_nodelay(bool on) { return setopt(fd_, IPPROTO_TCP, TCP_NODELAY, on); }

std::error_code TcpConn::set_keepalive(bool on, std::chrono::seconds idle) {
  if (std::error_code ec = setopt(fd_, SOL_SOCKET, SO_KEEPALIVE, on); ec || !on) return ec;
  const int secs = static_cast<int>(std::max<std::int64_t>(1, idle.count()));
  if (std::error_code ec = setopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, secs)) return ec;
  return setopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, secs);
}

// ---- dialing -----------------------------------------------------------------------

Result<Conn> dial_addr(const Address& addr, Deadline deadline) {
  auto fd = new_socket(addr.family());
  if (!fd) return fd.error();
  Conn c(*fd);
  if (std::error_code ec = (*fd)->connect(addr, detail::to_nanotime(deadline))) return ec;
  if (addr.family() != AF_UNIX) setopt(*fd, IPPROTO_TCP, TCP_NODELAY, 1);
  return c;
}

Result<TcpConn> dial_tcp(std::string_view host_port, std::chrono::nanoseconds timeout) {
  auto split = split_host_port(host_port);
  if (!split) return split.error();
  const Deadline deadline = timeout.count() > 0 ? after(timeout) : Deadline{};
  auto addrs = resolve(split->first, split->second);
  if (!addrs) return addrs.error();
  std::error_code last;
  for (const Address& a : *addrs) {
    auto c = dial_addr(a, deadline);
    if (c) return TcpConn(std::move(*c));
    last = c.error();
    if (last == Error::timeout) break;
  }
  return last;
}

Result<UnixConn> dial_unix(std::string_view path) {
  auto c = dial_addr(Address::unix_path(path));
  if (!c) return c.error();
  return UnixConn(std::move(*c));
}

std::pair<Conn, Conn> pipe() {
  int sv[2];
  if (long r = sys::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv); r < 0)
    throw std::system_error(detail::errno_code(r), "weft::net::pipe");
  auto a = NetFd::open(sv[0], AF_UNIX);
  auto b = NetFd::open(sv[1], AF_UNIX);
  if (!a || !b) {
    if (a) destroy(*a);
    if (b) destroy(*b);
    throw std::system_error(a ? b.error() : a.error(), "weft::net::pipe");
  }
  return {Conn(*a), Conn(*b)};
}

// ---- listening ---------------------------------------------------------------------

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    destroy(fd_);
    fd_ = std::exchange(o.fd_, nullptr);
  }
  return *this;
}

Listener::~Listener() { destroy(fd_); }

Result<Conn> Listener::accept() {
  if (!fd_) return Error::closed;
  auto nfd = fd_->accept(nullptr);
  if (!nfd) return nfd.error();
  auto fd = NetFd::open(*nfd, fd_->family());
  if (!fd) return fd.error();
  if (fd_->family() != AF_UNIX) setopt(*fd, IPPROTO_TCP, TCP_NODELAY, 1);
  return Conn(*fd);
}

std::error_code Listener::close() { return fd_ ? fd_->close() : Error::closed; }

std::error_code Listener::set_deadline(Deadline d) {
  return fd_ ? fd_->set_deadline(detail::to_nanotime(d), true, false) : Error::closed;
}

Address Listener::addr() const { return sockname(fd_, false); }
int Listener::native_handle() const { return fd_ ? fd_->fd() : -1; }

Result<Listener> listen_addr(const Address& addr, const ListenOptions& opts) {
  auto fd = new_socket(addr.family());
  if (!fd) return fd.error();
  Listener l(*fd);
  if (addr.family() != AF_UNIX) {
    if (std::error_code ec = setopt(*fd, SOL_SOCKET, SO_REUSEADDR, 1)) return ec;
    if (opts.reuse_port)
      if (std::error_code ec = setopt(*fd, SOL_SOCKET, SO_REUSEPORT, 1)) return ec;
  }
  if (long r = sys::bind((*fd)->fd(), addr.data(), addr.size()); r < 0)
    return detail::errno_code(r);
  if (long r = sys::listen((*fd)->fd(), opts.backlog); r < 0) return detail::errno_code(r);
  return l;
}

Result<TcpListener> TcpListener::listen(std::string_view host_port, const ListenOptions& opts) {
  auto split = split_host_port(host_port);
  if (!split) return split.error();
  auto addrs = resolve(split->first, split->second);
  if (!addrs) return addrs.error();
  auto l = listen_addr(addrs->front(), opts);
  if (!l) return l.error();
  TcpListener t;
  static_cast<Listener&>(t) = std::move(*l);
  return t;
}

Result<TcpConn> TcpListener::accept() {
  auto c = Listener::accept();
  if (!c) return c.error();
  return TcpConn(std::move(*c));
}

Result<UnixListener> UnixListener::listen(std::string_view path, const ListenOptions& opts) {
  // A socket file left by an earlier process would make bind fail with EADDRINUSE;
  // anything else at the path is left alone (bind then fails).
  std::string p(path);
  weft::blocking([&] {
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(p.c_str());
  });
  auto l = listen_addr(Address::unix_path(path), opts);
  if (!l) return l.error();
  UnixListener u;
  static_cast<Listener&>(u) = std::move(*l);
  return u;
}

Result<UnixConn> UnixListener::accept() {
  auto c = Listener::accept();
  if (!c) return c.error();
  return UnixConn(std::move(*c));
}

// ---- the poller --------------------------------------------------------------------

namespace detail {

Poller& Poller::get() {
  // Created by the first socket, as Go's netpollGenericInit; never destroyed (a fiber
  // of a later run may still hold sockets registered with it).
  static Poller* poller = [] {
    Poller* p = make_poller();
    weft::detail::netpoll_install(p);
    return p;
  }();
  return *poller;
}

weft::detail::G* Poller::polled(std::int64_t delay_ns, weft::detail::G* list) {
  (delay_ns == 0 ? n_polls : n_blocking_polls).fetch_add(1, std::memory_order_relaxed);
  std::uint64_t woken = 0;
  for (weft::detail::G* g = list; g; g = g->schedlink) woken++;
  if (woken) n_woken.fetch_add(woken, std::memory_order_relaxed);
  return list;
}

}  // namespace detail

PollerStats poller_stats() {
  PollerStats st;
  detail::Poller& p = detail::Poller::get();
  st.registered_fds = p.n_registered.load(std::memory_order_relaxed);
  st.waiting_fibers = detail::pd_waiters.load(std::memory_order_relaxed);
  st.polls = p.n_polls.load(std::memory_order_relaxed);
  st.blocking_polls = p.n_blocking_polls.load(std::memory_order_relaxed);
  st.fibers_woken = p.n_woken.load(std::memory_order_relaxed);
  st.wakes = p.n_wakes.load(std::memory_order_relaxed);
  st.empty_reads = p.n_empty_reads.load(std::memory_order_relaxed);
  return st;
}

}  // namespace weft::net
