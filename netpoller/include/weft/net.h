// weft/net.h: blocking-style sockets on the runtime's network poller.
//
// Every call here looks blocking to the fiber that makes it and never blocks the thread:
// a socket is non-blocking underneath, and a call that would block parks the fiber until
// the poller (netpoller/src/poll_desc.h) reports the socket ready, its deadline passes or
// another fiber closes it. Write servers the way Go does -- a fiber per connection:
//
//   auto ln = weft::net::TcpListener::listen("127.0.0.1:7000").value();
//   for (;;) {
//     auto c = ln.accept();
//     if (!c) break;
//     weft::go([c = std::move(*c)]() mutable {
//       char buf[4096];
//       while (auto n = c.read(buf, sizeof buf)) c.write(buf, *n);
//     });
//   }
//
// Errors are std::error_code values: the OS's (std::system_category) or weft's own
// (net::Error: eof, closed, timeout, unexpected_eof), never raw errno and never thrown.
// Calls must be made from fibers (inside weft::run).
//
// Sharing: one fiber may read while another writes; concurrent reads (or writes) on one
// connection are serialized, so one write() is never interleaved with another. close()
// from any fiber wakes the fibers blocked on the socket with Error::closed. A Conn or
// Listener must outlive the calls made on it, as any C++ object.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft::net {

// ---- errors ------------------------------------------------------------------------

enum class Error {
  eof = 1,         // the peer closed its side: no more data (Go's io.EOF)
  closed,          // the socket was closed, possibly by another fiber while this one waited
  timeout,         // the read or write deadline passed (equivalent to std::errc::timed_out)
  unexpected_eof,  // read_full() met EOF before it had every byte
  bad_address,     // an address that does not parse
  host_not_found,  // name resolution found no address for the host
};
const std::error_category& net_category();
std::error_code make_error_code(Error e);

}  // namespace weft::net

template <>
struct std::is_error_code_enum<weft::net::Error> : std::true_type {};

namespace weft::net {

// Result<T>: a value or the error that prevented it (std::expected's shape, C++20).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit, like expected
  Result(std::error_code ec) : ec_(ec) {}        // NOLINT
  Result(Error e) : ec_(make_error_code(e)) {}   // NOLINT

  bool ok() const { return !ec_; }
  explicit operator bool() const { return ok(); }
  const std::error_code& error() const { return ec_; }
  // value() throws std::system_error when there is none: for code that cannot go on.
  T& value() & { return check(), *value_; }
  T&& value() && { return check(), std::move(*value_); }
  T& operator*() & { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }

 private:
  void check() const {
    if (ec_) throw std::system_error(ec_);
  }
  std::optional<T> value_;
  std::error_code ec_;
};

// ---- addresses ---------------------------------------------------------------------

// Address: an IPv4, IPv6 or Unix-domain socket address.
class Address {
 public:
  Address() = default;
  Address(const sockaddr* sa, socklen_t len);
  // parse() takes "1.2.3.4:80", "[::1]:80", ":80" (every IPv4 address) or, with
  // `unix:` in front, a Unix socket path. No name lookup: see resolve().
  static Result<Address> parse(std::string_view host_port);
  static Address unix_path(std::string_view path);

  int family() const { return storage_.ss_family; }
  std::uint16_t port() const;  // 0 for Unix addresses
  std::string host() const;    // "1.2.3.4", "::1", or the Unix path
  std::string to_string() const;
  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const { return len_; }
  bool operator==(const Address& o) const;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

// resolve() looks host up with getaddrinfo (on a thread of its own, through
// weft::blocking) and returns its addresses with `port`. Numeric hosts skip the lookup.
Result<std::vector<Address>> resolve(std::string_view host, std::uint16_t port);
// split_host_port() splits "host:port" / "[v6]:port". Result: {host, port}.
Result<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view host_port);

namespace detail {
class NetFd;

// read_full_with() calls read(buf, n) until len bytes have arrived: eof before the first
// byte is Error::eof, after it Error::unexpected_eof. Conn and Recording<C> share it.
template <class Read>
Result<std::size_t> read_full_with(Read&& read, void* buf, std::size_t len) {
  std::size_t got = 0;
  while (got < len) {
    auto r = read(static_cast<char*>(buf) + got, len - got);
    if (!r) return got > 0 && r.error() == Error::eof ? Error::unexpected_eof : r.error();
    got += *r;
  }
  return got;
}
}  // namespace detail

// A deadline is a steady_clock time point; the default (epoch) means none, as Go's zero
// time.Time. A deadline already past makes every call fail at once with Error::timeout.
using Deadline = std::chrono::steady_clock::time_point;
inline Deadline after(std::chrono::nanoseconds d) { return std::chrono::steady_clock::now() + d; }

// ---- connections -------------------------------------------------------------------

// Conn: a connected stream socket (TCP, Unix, or one end of a pipe()).
class Conn {
 public:
  Conn() = default;
  Conn(Conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  Conn& operator=(Conn&& o) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();  // closes

  bool valid() const { return fd_ != nullptr; }

  // read() reads what is there, at least one byte; Error::eof once the peer has
  // finished sending.
  Result<std::size_t> read(void* buf, std::size_t len);
  Result<std::size_t> read(std::span<std::byte> buf) { return read(buf.data(), buf.size()); }
  // readable() says, without blocking or consuming anything, whether read() would
  // return at once (data, eof or an error are pending). After a read that returned less
  // than it asked for it answers from what the poller has reported since, without a
  // system call, so data that arrived a moment ago may be reported a moment later;
  // waiting is then the right thing anyway. wait_readable() parks until read() would
  // return at once (or the read deadline passes, or the socket is closed). Together they let a
  // server hold no read buffer while a connection is idle: check, release the buffer,
  // wait, then allocate and read (Go reaches the same through RawConn.Read).
  Result<bool> readable();
  std::error_code wait_readable();
  // read_full() reads exactly len bytes; eof before the first byte is Error::eof, after
  // it Error::unexpected_eof.
  Result<std::size_t> read_full(void* buf, std::size_t len);
  // write() writes all of it (parking while the socket buffer is full), like Go's Write.
  Result<std::size_t> write(const void* buf, std::size_t len);
  Result<std::size_t> write(std::string_view s) { return write(s.data(), s.size()); }
  // write_all() writes every buffer, in order, with as few writev(2) calls as the
  // kernel allows: a batch of frames goes out in one system call.
  Result<std::size_t> write_all(std::span<const std::string_view> bufs);
  Result<std::size_t> write_all(std::initializer_list<std::string_view> bufs) {
    return write_all(std::span<const std::string_view>(bufs.begin(), bufs.size()));
  }

  // shutdown_write() half-closes: the peer reads eof, and can still send to us.
  std::error_code shutdown_write();
  std::error_code shutdown_read();
  // close() closes the socket and wakes every fiber blocked on it (Error::closed).
  // Closing twice returns Error::closed.
  std::error_code close();

  std::error_code set_deadline(Deadline d);  // both directions
  std::error_code set_read_deadline(Deadline d);
  std::error_code set_write_deadline(Deadline d);

  Address local_addr() const;
  Address remote_addr() const;
  int native_handle() const;

 protected:
  explicit Conn(detail::NetFd* fd) : fd_(fd) {}
  detail::NetFd* fd_ = nullptr;
  friend class Listener;
  friend std::pair<Conn, Conn> pipe();
  friend Result<Conn> dial_addr(const Address&, Deadline);
};

// TcpConn adds TCP's options. New connections have TCP_NODELAY set, as Go's do.
class TcpConn : public Conn {
 public:
  TcpConn() = default;
  explicit TcpConn(Conn c) : Conn(std::move(c)) {}
  std::error_code set_nodelay(bool on);
  // set_keepalive() turns keepalive probes on, `idle` between them (and before the first).
  std::error_code set_keepalive(bool on, std::chrono::seconds idle = std::chrono::seconds(15));
};

// UnixConn: a Unix-domain stream connection.
class UnixConn : public Conn {
 public:
  UnixConn() = default;
  explicit UnixConn(Conn c) : Conn(std::move(c)) {}
};

// dial_tcp() connects to "host:port", trying each resolved address in turn until
// `timeout` (zero: the OS's own connect timeout) runs out.
Result<TcpConn> dial_tcp(std::string_view host_port,
                         std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());
Result<UnixConn> dial_unix(std::string_view path);
// dial_addr() connects to one address, giving up at `deadline`.
Result<Conn> dial_addr(const Address& addr, Deadline deadline = {});

// pipe() returns the two ends of an in-memory full-duplex connection (a socketpair;
// Go's net.Pipe): what one end writes the other reads. For tests.
std::pair<Conn, Conn> pipe();

// ---- listeners ---------------------------------------------------------------------

struct ListenOptions {
  int backlog = 4096;       // capped by net.core.somaxconn
  bool reuse_port = false;  // SO_REUSEPORT: several listeners share the port
};

// Listener: a listening stream socket. accept() parks until a connection arrives.
class Listener {
 public:
  Listener() = default;
  Listener(Listener&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  Listener& operator=(Listener&& o) noexcept;
  ~Listener();

  bool valid() const { return fd_ != nullptr; }
  Result<Conn> accept();
  // close() stops listening and wakes the fibers blocked in accept() (Error::closed).
  std::error_code close();
  std::error_code set_deadline(Deadline d);  // for accept()
  Address addr() const;
  int native_handle() const;

 protected:
  explicit Listener(detail::NetFd* fd) : fd_(fd) {}
  detail::NetFd* fd_ = nullptr;
  friend Result<Listener> listen_addr(const Address&, const ListenOptions&);
};

// TcpListener listens on "host:port" (IPv4 or IPv6; port 0 picks a free one; an empty
// host means every IPv4 address). SO_REUSEADDR is always set.
class TcpListener : public Listener {
 public:
  TcpListener() = default;
  static Result<TcpListener> listen(std::string_view host_port, const ListenOptions& opts = {});
  Result<TcpConn> accept();
};

// UnixListener listens on a filesystem path, removing a stale socket file first.
class UnixListener : public Listener {
 public:
  UnixListener() = default;
  static Result<UnixListener> listen(std::string_view path, const ListenOptions& opts = {});
  Result<UnixConn> accept();
};

Result<Listener> listen_addr(const Address& addr, const ListenOptions& opts = {});

// ---- introspection -----------------------------------------------------------------

// PollerStats: what the network poller has done since the process started (for
// /debug/vars). All zero until the first socket is opened.
struct PollerStats {
  std::int64_t registered_fds = 0;   // descriptors registered with the poller now
  std::int64_t waiting_fibers = 0;   // fibers parked on socket readiness now
  std::uint64_t polls = 0;           // non-blocking polls (a P looking for work, sysmon)
  std::uint64_t blocking_polls = 0;  // polls by the M waiting while every P was idle
  std::uint64_t fibers_woken = 0;    // fibers made runnable by readiness
  std::uint64_t wakes = 0;           // interruptions of a blocking poll
  std::uint64_t empty_reads = 0;     // reads the kernel answered "would block" (EAGAIN)
};
PollerStats poller_stats();

// ---- composition -------------------------------------------------------------------

// Recording<C> is a C that keeps a copy of every byte read and written through it -- a
// wrapper in the spirit of Go's struct embedding: every other member of C is C's own.
//   weft::net::Recording<weft::net::TcpConn> rc(std::move(conn));
//   rc.write("ping"); ... rc.sent() == "ping"
template <class C>
class Recording : public C {
 public:
  explicit Recording(C inner) : C(std::move(inner)) {}

  Result<std::size_t> read(void* buf, std::size_t len) {
    auto r = C::read(buf, len);
    if (r) received_.append(static_cast<const char*>(buf), *r);
    return r;
  }
  Result<std::size_t> read_full(void* buf, std::size_t len) {
    return detail::read_full_with([this](void* b, std::size_t n) { return read(b, n); }, buf, len);
  }
  Result<std::size_t> write(const void* buf, std::size_t len) {
    auto r = C::write(buf, len);
    if (r) sent_.append(static_cast<const char*>(buf), *r);
    return r;
  }
  Result<std::size_t> write(std::string_view s) { return write(s.data(), s.size()); }
  Result<std::size_t> write_all(std::span<const std::string_view> bufs) {
    auto r = C::write_all(bufs);
    if (r)
      for (auto b : bufs) sent_.append(b);
    return r;
  }
  Result<std::size_t> write_all(std::initializer_list<std::string_view> bufs) {
    return write_all(std::span<const std::string_view>(bufs.begin(), bufs.size()));
  }

  const std::string& received() const { return received_; }
  const std::string& sent() const { return sent_; }

 private:
  std::string received_, sent_;
};

}  // namespace weft::net
