// weft/chan.h: typed channels with Go's semantics.
//
// A Chan<T> is a cheap, copyable handle to shared channel state, like a Go channel
// value. Capacity 0 makes it unbuffered: a send waits for a receiver and hands the value
// over directly. A default-constructed Chan is Go's nil channel: send and recv on it
// block forever.
//
//   weft::Chan<std::unique_ptr<Job>> jobs(64);
//   weft::go([jobs] { for (auto& job : jobs) run(*job); });   // until closed and drained
//   jobs.send(std::make_unique<Job>(...));
//   jobs.close();
//
// Semantics: recv on a closed channel drains the buffer, then reports closed (nullopt);
// send on a closed channel and a second close throw ChanClosedError (Go panics). A sender
// that finds a receiver waiting gives it the value directly (no buffer round trip) and
// makes it the next fiber to run on its processor (runnext). Blocked sends and receives
// show in fiber dumps as "chan send" / "chan receive" and in the block profile.
// Thread safety: every operation may be called from any fiber, and from plain threads.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <source_location>
#include <utility>

#include "weft/detail/chan_core.h"

namespace weft {

namespace detail {
struct ChanAccess;
}

template <class T>
class Chan {
 public:
  // Chan() is the nil channel.
  Chan() = default;
  // Chan(cap) makes a channel with `cap` buffer slots (0: unbuffered).
  explicit Chan(std::size_t cap)
      : c_(std::make_shared<detail::ChanCore>(&detail::chan_ops_for<T>, cap)) {}

  // send() sends v, parking while the channel is full. Throws ChanClosedError.
  void send(T v, std::source_location site = std::source_location::current()) const {
    if (!c_) block_forever(site);
    c_->send(&v, site);
  }
  // recv() receives the next value, parking while the channel is empty; nullopt once
  // the channel is closed and drained.
  std::optional<T> recv(std::source_location site = std::source_location::current()) const {
    if (!c_) block_forever(site);
    Slot s;
    if (!c_->recv(s.raw(), site)) return std::nullopt;
    return s.take();
  }
  // try_send() sends v if that needs no wait; false otherwise. Throws ChanClosedError.
  bool try_send(T v) const { return c_ && c_->try_send(&v); }
  // try_recv() receives a value if one is ready; nullopt if not (or closed: see closed).
  std::optional<T> try_recv(bool* closed = nullptr) const {
    if (closed) *closed = false;
    if (!c_) return std::nullopt;
    Slot s;
    int r = c_->try_recv(s.raw());
    if (r < 0 && closed) *closed = true;
    if (r <= 0) return std::nullopt;
    return s.take();
  }
  // close() closes the channel, waking every waiter. Throws ChanClosedError if already
  // closed (and, like Go, on the nil channel).
  void close() const {
    if (!c_) throw ChanClosedError("close of nil channel");
    c_->close();
  }
  std::size_t len() const { return c_ ? c_->len() : 0; }
  std::size_t cap() const { return c_ ? c_->cap() : 0; }
  bool nil() const { return !c_; }
  explicit operator bool() const { return c_ != nullptr; }
  bool operator==(const Chan& o) const { return c_ == o.c_; }

  // Range-for receives until the channel is closed and drained.
  class iterator {
   public:
    explicit iterator(const Chan* ch) : ch_(ch) { advance(); }
    iterator() = default;
    T& operator*() { return *cur_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    bool operator!=(const iterator&) const { return cur_.has_value(); }

   private:
    void advance() { cur_ = ch_ ? ch_->recv() : std::nullopt; }
    const Chan* ch_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() const { return iterator(this); }
  iterator end() const { return iterator(); }

  detail::ChanCore* core() const { return c_.get(); }

 private:
  // Raw storage the channel constructs a received T into.
  struct Slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    void* raw() { return bytes; }
    T take() {
      T* p = std::launder(reinterpret_cast<T*>(bytes));
      T v(std::move(*p));
      p->~T();
      return v;
    }
  };
  [[noreturn]] static void block_forever(const std::source_location& site);

  friend struct detail::ChanAccess;
  explicit Chan(std::shared_ptr<detail::ChanCore> c) : c_(std::move(c)) {}

  std::shared_ptr<detail::ChanCore> c_;
};

namespace detail {
[[noreturn]] void chan_block_forever(const std::source_location& site);

// ChanAccess wraps a core the runtime made itself (tick(): one whose owner stops a
// ticker when the last handle goes) in a Chan<T>. REQUIRES: the core holds Ts.
struct ChanAccess {
  template <class T>
  static Chan<T> wrap(std::shared_ptr<ChanCore> c) {
    return Chan<T>(std::move(c));
  }
};
}  // namespace detail

template <class T>
void Chan<T>::block_forever(const std::source_location& site) {
  detail::chan_block_forever(site);
}

}  // namespace weft
