// net_fd.h: a non-blocking socket on the poller (Go's internal/poll.FD and netFD).
//
// NetFd turns the socket's EAGAIN into parking on its PollDesc, serializes readers and
// writers (one of each may run at a time, so one write() is never interleaved with
// another), and makes close() safe while other fibers are inside calls:
//
//   calls_ = kClosed bit | number of calls in progress.
// Every call counts itself in first and fails with Error::closed once the bit is set.
// close() sets the bit and wakes the parked callers (pd_evict); whoever ends the last
// call after that unregisters and closes the file descriptor. So the descriptor number
// is never reused while a call might still pass it to the kernel.
//
//   refs_ = the owner (Conn, Listener) + calls in progress.
// The object is freed when both are gone: a fiber woken by close() may still be on its
// way out of accept() or read() when the owner is destroyed -- the common pattern of
// closing a listener from one fiber while another returns from accept and exits. A call
// closes the descriptor before it drops its reference, so never on a freed object.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "poll_desc.h"
#include "weft/mutex.h"
#include "weft/net.h"

namespace weft::net::detail {

class NetFd {
 public:
  // open() registers fd (already non-blocking) with the poller and takes ownership of it
  // (closing it on failure).
  static Result<NetFd*> open(int fd, int family);
  // release_owner(): the owner lets go (after close()); frees the object now or when the
  // last call in progress returns. The owner must not touch it afterwards.
  void release_owner();

  int fd() const { return fd_; }
  int family() const { return family_; }

  Result<std::size_t> read(void* buf, std::size_t len);
  Result<bool> readable();
  std::error_code wait_readable();
  Result<std::size_t> write(const void* buf, std::size_t len);
  Result<std::size_t> writev(std::span<const std::string_view> bufs);
  // accept() returns a new non-blocking, close-on-exec socket and its peer's address.
  Result<int> accept(Address* peer);
  // connect() connects, parking until done or until deadline_ns (0: none).
  std::error_code connect(const Address& addr, std::int64_t deadline_ns);
  std::error_code shutdown(int how);
  std::error_code close();
  std::error_code set_deadline(std::int64_t when_ns, bool read, bool write);

 private:
  NetFd(int fd, int family, PollDesc* pd) : fd_(fd), family_(family), pd_(pd) {}
  bool acquire();  // a call begins (false: closed)
  void release();  // a call ends
  void drop_call();
  void unref();
  void destroy_fd();
  std::error_code wait(bool write);   // pd_wait(), as an error (none: ready)
  std::error_code check(bool write);  // pd_check(), as an error
  // drained(): the last read was short and the peer's end has not been seen since, so a
  // read would find nothing the poller has not reported (see read_drained_). Under rmu_.
  bool drained() const { return read_drained_ && !pd_->read_end.load(std::memory_order_seq_cst); }
  long read_syscall(void* buf, std::size_t len);  // read(2), or readv(2) into the spill too
  std::size_t take_spill(void* buf, std::size_t len);

  ~NetFd();  // via unref() only
  static constexpr std::uint64_t kClosed = 1ull << 63;
  const int fd_;
  const int family_;
  PollDesc* const pd_;
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<std::uint32_t> refs_{1};
  std::atomic<bool> fd_closed_{false};
  weft::Mutex rmu_, wmu_;
  // The last read returned less than it asked for: the socket's receive queue was empty
  // then, so the next read waits for readiness before its system call instead of
  // spending one on EAGAIN (guarded by rmu_).
  bool read_drained_ = false;
  // A small read (under kSpill bytes) asks the kernel for kSpill bytes more, into the
  // spill: only a read that returns less than it asked for tells a drained socket from
  // one emptied to the exact byte, and a request/response peer reads exact sizes (a
  // header, a 64-byte reply). Without it, the read after such a reply spends a system
  // call on EAGAIN before it parks -- one in five of an echo client's. What lands in the
  // spill is the next read's, before the socket's. Allocated at the first small read;
  // guarded by rmu_.
  static constexpr std::size_t kSpill = 512;
  std::unique_ptr<char[]> spill_;
  std::uint32_t spill_off_ = 0, spill_len_ = 0;
};

std::error_code errno_code(long neg_errno);
// to_nanotime() converts a Deadline to the runtime's nanotime() clock (0: none).
std::int64_t to_nanotime(Deadline d);

}  // namespace weft::net::detail
