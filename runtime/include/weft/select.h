// weft/select.h: Go's select over channels of any element types, after() and tick().
//
//   weft::select(
//       weft::on_recv(jobs, [&](std::optional<Job> j) { if (j) run(*j); else done = true; }),
//       weft::on_send(results, r, [&] { sent++; }),
//       weft::on_recv(weft::after(std::chrono::seconds(1)), [&](auto) { timed_out = true; }));
//
// select() waits until one case can proceed, performs it, runs that case's callback and
// returns the case's index. Ready cases are chosen in random order (fairness); an
// on_default case makes the select non-blocking. A receive case gets nullopt when its
// channel is closed; a send case on a closed channel throws ChanClosedError. A nil
// channel's case never fires. A fiber waiting in select is parked on every channel at
// once ("select" in fiber dumps); the first channel to fire wins, the others forget it.
#pragma once

#include <cstddef>
#include <optional>
#include <source_location>
#include <tuple>
#include <utility>

#include "weft/chan.h"
#include "weft/time.h"

namespace weft {

namespace detail {
// CaseChan is the channel a case waits on. A named channel is only pointed at: it
// outlives the select statement, as a Go select evaluates its channel expressions once
// and holds nothing. A temporary one (`on_recv(after(d), ...)`) is held, since the case
// may outlive the expression. Copying a named handle would touch its reference count,
// twice per case per select, a cache line the channel's other users may be writing.
// RawSlot is storage for one T that a receive case constructs into: left uninitialized
// (a `{}` for a plain byte array would zero it on every select).
template <class T>
struct RawSlot {
  RawSlot() {}
  alignas(T) unsigned char bytes[sizeof(T)];
};
template <class T, bool Owned>
struct CaseChan {
  ChanCore* c;
  ChanCore* core() const { return c; }
};
template <class T>
struct CaseChan<T, true> {
  Chan<T> ch;
  ChanCore* core() const { return ch.core(); }
};
}  // namespace detail

template <class T, class F, bool Owned>
struct RecvCase {
  detail::CaseChan<T, Owned> ch;
  F fn;  // called with std::optional<T>
  detail::RawSlot<T> slot;
  detail::SelCase sel() { return {ch.core(), slot.bytes}; }
  void fire(const detail::SelCase& c) {
    if (!c.ok) return fn(std::optional<T>());
    T* p = std::launder(reinterpret_cast<T*>(slot.bytes));
    std::optional<T> v(std::move(*p));
    p->~T();
    fn(std::move(v));
  }
};

template <class T, class F, bool Owned>
struct SendCase {
  detail::CaseChan<T, Owned> ch;
  T value;
  F fn;  // called with no arguments once the value is sent
  detail::SelCase sel() { return {ch.core(), &value, true}; }
  void fire(const detail::SelCase&) { fn(); }
};

template <class F>
struct DefaultCase {
  F fn;
  detail::SelCase sel() { return {nullptr, nullptr, false, true}; }
  void fire(const detail::SelCase&) { fn(); }
};

// on_recv() is `case v, ok := <-ch:`; fn receives std::optional<T> (nullopt: closed).
// A named channel must outlive the case (as it does a select statement that names it).
template <class T, class F>
RecvCase<T, F, false> on_recv(const Chan<T>& ch, F fn) {
  return RecvCase<T, F, false>{{ch.core()}, std::move(fn), {}};
}
template <class T, class F>
RecvCase<T, F, true> on_recv(Chan<T>&& ch, F fn) {
  return RecvCase<T, F, true>{{std::move(ch)}, std::move(fn), {}};
}
// on_send() is `case ch <- v:`.
template <class T, class F>
SendCase<T, F, false> on_send(const Chan<T>& ch, T v, F fn) {
  return SendCase<T, F, false>{{ch.core()}, std::move(v), std::move(fn)};
}
template <class T, class F>
SendCase<T, F, true> on_send(Chan<T>&& ch, T v, F fn) {
  return SendCase<T, F, true>{{std::move(ch)}, std::move(v), std::move(fn)};
}
// on_default() is `default:`.
template <class F>
DefaultCase<F> on_default(F fn) {
  return DefaultCase<F>{std::move(fn)};
}

namespace detail {
template <class Tuple, std::size_t... I>
int select_tuple(Tuple& cases, std::index_sequence<I...>, const std::source_location& site) {
  constexpr std::size_t n = sizeof...(I);
  static_assert(n > 0 && n <= 64, "select takes 1 to 64 cases");
  SelCase arr[n] = {std::get<I>(cases).sel()...};
  int k = select_impl(arr, static_cast<int>(n), site);
  ((k == static_cast<int>(I) ? (std::get<I>(cases).fire(arr[I]), 0) : 0), ...);
  return k;
}
}  // namespace detail

// select() runs the first case that can proceed; returns its index.
template <class... Cases>
int select(Cases&&... cases) {
  auto tuple = std::forward_as_tuple(cases...);
  return detail::select_tuple(tuple, std::index_sequence_for<Cases...>{},
                              std::source_location::current());
}

// after() returns a channel that receives the time once, `d` from now (Go's time.After).
inline Chan<Clock::time_point> after(Duration d) {
  Chan<Clock::time_point> c(1);
  Timer::after_func(d, [c] {
    try {
      c.try_send(Clock::now());
    } catch (const ChanClosedError&) {
      // Its reader closed it: nobody wants the time, and it is no panic of the sender's.
    }
  });
  return c;
}

// tick() returns a channel that receives the time every `d` (Go's time.Tick), for as
// long as a handle to it exists:
//
//   auto ticks = weft::tick(std::chrono::seconds(1));
//   for (;;)
//     weft::select(weft::on_recv(ticks, [&](auto) { report(); }),
//                  weft::on_recv(ctx.done(), [&](auto) { ... }));
//
// It is a Ticker (weft/time.h) whose timer callback does a non-blocking send into a
// one-slot buffer: a slow reader misses ticks rather than queueing them, and the next
// deadline is counted from the last one, not from the read. Unlike Go's time.Tick, whose
// ticker is never stopped (Go documents it as a leak), the ticker stops when the last
// handle to the channel goes away -- drop every copy (select cases hold one while they
// run), and it never fires again; it also stops if the channel is closed. The channel
// must not outlive run(): its last handle stops a timer, which needs the runtime.
// d <= 0 returns the nil channel, as Go's does.
Chan<Clock::time_point> tick(Duration d);

}  // namespace weft
