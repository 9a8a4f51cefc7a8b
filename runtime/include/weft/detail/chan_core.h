// detail/chan_core.h: the type-erased heart of weft::Chan<T> (runtime/src/chan.cpp).
//
// Chan<T> is a thin template over ChanCore, which moves elements through a small table
// of operations (ChanOps), so that the channel algorithm -- Go's hchan -- is compiled
// once, in the runtime, next to the scheduler it parks fibers on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <source_location>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/wait_list.h"

namespace weft {

// ChanClosedError is thrown by send() on a closed channel and by close() of a closed
// channel: programming errors that Go reports with a panic.
class ChanClosedError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

struct Waiter;
struct G;
class ChanCore;
class SelectImpl;
// One case of a select (weft/select.h builds them).
struct SelCase {
  ChanCore* core = nullptr;  // nullptr: a nil channel, never ready
  void* elem = nullptr;      // send: the value; receive: raw storage for one T
  bool send = false;
  bool is_default = false;
  bool ok = false;  // receive: a value arrived (false: closed)
};
int select_impl(SelCase* cases, int n, const std::source_location& site);

struct ChanOps {
  std::size_t size;
  // move_construct() builds a T at dst from the T at src (src stays a valid, moved-from T).
  void (*move_construct)(void* dst, void* src);
  void (*destroy)(void* p);
  // trivial: T is trivially copyable, so a move is a copy of `size` bytes and a destroy
  // is nothing; the channel then makes no indirect call per element.
  bool trivial;
};

template <class T>
inline constexpr ChanOps chan_ops_for = {
    sizeof(T), [](void* dst, void* src) { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) { static_cast<T*>(p)->~T(); }, std::is_trivially_copyable_v<T>};

// ChanCore's fields are guarded by the spin word of recvq_, held for a few dozen
// instructions -- and by a waiting send or receive until its fiber has switched away
// (chan.cpp). Invariants (Go's chan.go):
//   - recvq is non-empty only if the buffer is empty;
//   - sendq is non-empty only if the buffer is full (for cap 0: always "full");
//   - so never both a waiting sender and a waiting receiver.
class ChanCore {
 public:
  ChanCore(const ChanOps* ops, std::size_t cap);
  ~ChanCore();
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // send() moves *elem into the channel, parking while it is full. Throws
  // ChanClosedError if the channel is (or gets) closed.
  void send(void* elem, const std::source_location& site);
  // recv() move-constructs the next element into *out (raw storage) and returns true,
  // or returns false (constructing nothing) once the channel is closed and drained.
  bool recv(void* out, const std::source_location& site);
  // try_send() is send() that never parks: false if it would have.
  bool try_send(void* elem);
  // try_recv(): 1 received, 0 would block, -1 closed and drained.
  int try_recv(void* out);
  void close();
  std::size_t len() const;
  std::size_t cap() const { return cap_; }
  bool closed() const;

 private:
  friend class SelectImpl;  // select (chan.cpp)
  bool give_locked(void* elem, G** to_ready);
  bool take_locked(void* out, G** to_ready);
  void move_elem(void* dst, void* src) const;
  void destroy_elem(void* p) const;
  unsigned char* slot(std::size_t i) const { return buf_ + i * size_; }
  // count_ and closed_ change under the lock, and select's first pass glances at them
  // without it: their stores are atomic (relaxed: plain moves on x86).
  void set_count(std::size_t n) { __atomic_store_n(&count_, n, __ATOMIC_RELAXED); }
  void set_closed() { __atomic_store_n(&closed_, true, __ATOMIC_RELAXED); }

  const ChanOps* ops_;
  std::size_t size_;  // ops_->size and ops_->trivial, kept next to the state
  bool trivial_;
  std::size_t cap_;
  unsigned char* buf_;     // cap_ slots of size_ bytes
  std::size_t head_ = 0;   // next slot to receive from
  std::size_t count_ = 0;  // elements in buf_
  bool closed_ = false;
  mutable WaitList recvq_;  // its lock word is the channel's lock
  WaitList sendq_;
};

}  // namespace detail
}  // namespace weft
