// weft/time.h: sleeping, timers and tickers that park fibers, not threads.
//
// Timers live in per-P heaps (see runtime/src/timer.h); their expiry wakes parked
// threads, so a runtime whose fibers all sleep uses no CPU until the earliest deadline.
//
//   weft::Ticker tick(std::chrono::milliseconds(100));
//   for (int i = 0; i < 10; i++) { tick.wait(); report(); }
//
// The channel forms, after(d) and tick(d), are in weft/select.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "weft/detail/function.h"

namespace weft {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;

// sleep_for() parks the calling fiber for at least `d`. d <= 0 returns at once.
void sleep_for(Duration d);
// sleep_until() parks the calling fiber until `t` has passed.
void sleep_until(Clock::time_point t);

// now_ns() is the runtime's monotonic clock, in nanoseconds.
std::int64_t now_ns();

namespace detail {
struct TimerState;
}

// Timer fires once, `d` after it is started (or reset), like Go's time.Timer.
// A Timer is a value handle: copies refer to the same timer. Thread safe.
class Timer {
 public:
  // Timer(d) starts a timer that wait() blocks on.
  explicit Timer(Duration d);
  // after_func() starts a timer that runs `fn` in a new fiber when it fires
  // (Go's time.AfterFunc); wait() on such a timer is not allowed.
  static Timer after_func(Duration d, detail::Function fn);

  // stop() prevents the timer from firing. Returns true if it did so, false if the
  // timer had already fired or been stopped.
  bool stop() const;
  // reset() re-arms the timer to fire `d` from now. Returns true if it had been active.
  bool reset(Duration d) const;
  // wait() parks the caller until the timer fires; returns at once if it already has.
  // Returns false if the timer was stopped before firing (Go would block forever).
  bool wait() const;

 private:
  explicit Timer(std::shared_ptr<detail::TimerState> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::TimerState> s_;
};

// Ticker fires every `period`; a slow reader misses ticks rather than queueing them
// (Go's time.Ticker). A value handle; thread safe.
class Ticker {
 public:
  explicit Ticker(Duration period);
  // wait() parks until the next tick. Returns false once the ticker is stopped.
  bool wait() const;
  void stop() const;
  void reset(Duration period) const;

 private:
  std::shared_ptr<detail::TimerState> s_;
};

}  // namespace weft
