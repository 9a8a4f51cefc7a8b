// time.cpp: sleep, Timer and Ticker (weft/time.h) on the runtime's timers (timer.h),
// and tick() (weft/select.h), a Ticker that sends into a channel.
#include "weft/time.h"

#include <mutex>
#include <thread>

#include "proc.h"
#include "waiter.h"
#include "weft/select.h"

namespace weft {

std::int64_t now_ns() { return detail::nanotime(); }

void sleep_until(Clock::time_point t) {
  sleep_for(std::chrono::duration_cast<Duration>(t - Clock::now()));
}

namespace {
// Off the runtime. Out of line: it calls into libc (leaf.h).
__attribute__((noinline)) void sleep_thread(Duration d) { std::this_thread::sleep_for(d); }
}  // namespace

void sleep_for(Duration d) {
  if (d.count() <= 0) {
    detail::check_preempt();
    return;
  }
  detail::G* g = detail::getg();
  if (!g) {
    sleep_thread(d);
    return;
  }
  detail::Timer t;
  t.when = detail::nanotime() + d.count();
  t.arg = g;
  t.fire = [](detail::Timer* t, std::int64_t) { detail::ready(static_cast<detail::G*>(t->arg)); };
  // Armed after the switch: the timer cannot fire before this fiber is off its stack.
  detail::park(
      WaitReason::sleep,
      [](detail::G*, void* arg) {
        detail::timer_add(static_cast<detail::Timer*>(arg));
        return true;
      },
      &t);
}

namespace detail {

// TimerState is shared by Timer/Ticker handles. While armed, the heap owns a reference
// (`self`), so a timer whose handles are all dropped still fires (after_func) or is
// reclaimed when it fires; stop() drops that reference when it disarms.
// Lock order: the state's lock (waiters.lock) is taken before a P's timer_lock and
// before Sched::lock (timer_add may wake an M); fibers are readied after it is released.
struct TimerState {
  Timer timer;
  std::int64_t period = 0;            // Ticker
  std::shared_ptr<Function> func;     // after_func: run in a new fiber at each fire
  std::weak_ptr<ChanCore> tick_chan;  // tick(): sent the time at each fire (set before arming)
  WaitList waiters;                   // fibers in wait(); its lock guards the fields below
  std::shared_ptr<TimerState> self;   // set while armed
  std::uint64_t fired = 0;            // fires so far
  std::uint64_t consumed = 0;         // Ticker: fires already returned by wait()
  bool stopped = false;
  bool armed = false;

  static void fire(Timer* t, std::int64_t now);
  static void discard(Timer* t);
  // REQUIRES: waiters.lock held, not armed.
  void arm(std::int64_t when, const std::shared_ptr<TimerState>& me) {
    timer.when = when;
    timer.fire = &TimerState::fire;
    timer.discard = &TimerState::discard;
    timer.arg = this;
    self = me;
    armed = true;
    stopped = false;
    timer_add(&timer);
  }
};

bool timer_state_stop(TimerState* s);
void send_tick(TimerState* s, ChanCore* c);

namespace {

void wake_all(Waiter* w) {
  while (w) {
    Waiter* next = w->next;
    w->linked = false;
    waiter_wake(w);
    w = next;
  }
}

Waiter* take_waiters(WaitList& l) {
  Waiter* w = l.head;
  l.head = l.tail = nullptr;
  return w;
}

}  // namespace

void TimerState::fire(Timer* t, std::int64_t now) {
  auto* s = static_cast<TimerState*>(t->arg);
  std::shared_ptr<TimerState> keep;  // released after the lock: maybe the last reference
  std::shared_ptr<Function> fn;
  std::shared_ptr<ChanCore> tick_to;  // holds the channel (and so s: see TickChan)
  Waiter* woken;
  wl_lock(s->waiters, LockRank::timer_state);
  s->fired++;
  s->armed = false;
  if (s->period > 0 && !s->stopped) {
    // Re-arm from the deadline, skipping ticks a slow reader missed.
    std::int64_t next = t->when + s->period;
    if (next <= now) next = now + s->period;
    t->when = next;
    s->armed = true;
    timer_add(t);
  } else {
    keep = std::move(s->self);
  }
  woken = take_waiters(s->waiters);
  fn = s->func;
  tick_to = s->tick_chan.lock();
  wl_unlock(s->waiters);
  wake_all(woken);
  if (fn) weft::go([fn] { (*fn)(); });
  if (tick_to) send_tick(s, tick_to.get());
  // Dropping tick_to may destroy the channel, which stops s (~TickChan): no lock is held.
}

// discard(): the runtime is stopping with s armed; it will not fire, so the reference
// it held to itself for the fire goes (and with it, if no handle is left, s).
void TimerState::discard(Timer* t) {
  auto* s = static_cast<TimerState*>(t->arg);
  std::shared_ptr<TimerState> keep;  // released after the lock
  wl_lock(s->waiters, LockRank::timer_state);
  s->armed = false;
  keep = std::move(s->self);
  wl_unlock(s->waiters);
}

// timer_state_stop() disarms s. Returns true if it was armed.
bool timer_state_stop(TimerState* s) {
  std::shared_ptr<TimerState> keep;
  wl_lock(s->waiters, LockRank::timer_state);
  s->stopped = true;
  const bool was_active = s->armed && timer_del(&s->timer);
  if (was_active) {
    s->armed = false;
    keep = std::move(s->self);
  }
  Waiter* woken = take_waiters(s->waiters);  // wait() on a stopped timer returns false
  wl_unlock(s->waiters);
  wake_all(woken);
  return was_active;
}

// timer_state_wait() parks until s has fired more than *seen times (then records the
// count in *seen); false if s is stopped first. REQUIRES: `seen` is guarded by s's lock.
bool timer_state_wait(TimerState* s, std::uint64_t* seen) {
  for (;;) {
    Waiter w;
    w.g = getg();
    wl_lock(s->waiters, LockRank::timer_state);
    if (s->fired > *seen) {
      *seen = s->fired;
      wl_unlock(s->waiters);
      return true;
    }
    if (s->stopped) {
      wl_unlock(s->waiters);
      return false;
    }
    if (!w.g) {  // a plain thread: poll
      wl_unlock(s->waiters);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    wl_push_back(s->waiters, &w);
    wl_unlock(s->waiters);
    waiter_park(&w, WaitReason::timer);
  }
}

// send_tick() is tick()'s timer callback body: a non-blocking send of the time (a full
// buffer drops the tick). It runs on the scheduler, so it must not throw: a closed
// channel stops the ticker instead. REQUIRES: the caller holds a reference to c, whose
// TickChan keeps s alive.
void send_tick(TimerState* s, ChanCore* c) {
  Clock::time_point now = Clock::now();
  try {
    c->try_send(&now);
  } catch (const ChanClosedError&) {
    timer_state_stop(s);
  }
}

// TickChan owns tick()'s channel core and its ticker. The Chan handles share ownership
// of it (through an aliasing shared_ptr to `core`); the ticker sees the core only
// through a weak_ptr, so the last handle to go destroys the TickChan, which stops the
// ticker: its reference from the timer heap is dropped and the TimerState is freed.
struct TickChan {
  ChanCore core;
  std::shared_ptr<TimerState> ticker;
  explicit TickChan(std::shared_ptr<TimerState> t)
      : core(&chan_ops_for<Clock::time_point>, 1), ticker(std::move(t)) {}
  TickChan(const TickChan&) = delete;
  TickChan& operator=(const TickChan&) = delete;
  ~TickChan() { timer_state_stop(ticker.get()); }
};

}  // namespace detail

Chan<Clock::time_point> tick(Duration d) {
  if (d.count() <= 0) return Chan<Clock::time_point>();
  auto s = std::make_shared<detail::TimerState>();
  s->period = d.count();
  auto owner = std::make_shared<detail::TickChan>(s);
  std::shared_ptr<detail::ChanCore> core(owner, &owner->core);
  s->tick_chan = core;
  detail::wl_lock(s->waiters, detail::LockRank::timer_state);
  s->arm(detail::nanotime() + s->period, s);
  detail::wl_unlock(s->waiters);
  return detail::ChanAccess::wrap<Clock::time_point>(std::move(core));
}

Timer::Timer(Duration d) : s_(std::make_shared<detail::TimerState>()) {
  detail::wl_lock(s_->waiters, detail::LockRank::timer_state);
  s_->arm(detail::nanotime() + std::max<std::int64_t>(d.count(), 0), s_);
  detail::wl_unlock(s_->waiters);
}

Timer Timer::after_func(Duration d, detail::Function fn) {
  auto s = std::make_shared<detail::TimerState>();
  s->func = std::make_shared<detail::Function>(std::move(fn));
  detail::wl_lock(s->waiters, detail::LockRank::timer_state);
  s->arm(detail::nanotime() + std::max<std::int64_t>(d.count(), 0), s);
  detail::wl_unlock(s->waiters);
  return Timer(std::move(s));
}

bool Timer::stop() const { return detail::timer_state_stop(s_.get()); }

bool Timer::reset(Duration d) const {
  const bool was_active = stop();
  detail::wl_lock(s_->waiters, detail::LockRank::timer_state);
  if (!s_->armed) {
    s_->fired = 0;
    s_->arm(detail::nanotime() + std::max<std::int64_t>(d.count(), 0), s_);
  }
  detail::wl_unlock(s_->waiters);
  return was_active;
}

bool Timer::wait() const {
  std::uint64_t seen = 0;
  return detail::timer_state_wait(s_.get(), &seen);
}

Ticker::Ticker(Duration period) : s_(std::make_shared<detail::TimerState>()) {
  s_->period = std::max<std::int64_t>(period.count(), 1);
  detail::wl_lock(s_->waiters, detail::LockRank::timer_state);
  s_->arm(detail::nanotime() + s_->period, s_);
  detail::wl_unlock(s_->waiters);
}

bool Ticker::wait() const { return detail::timer_state_wait(s_.get(), &s_->consumed); }

void Ticker::stop() const { detail::timer_state_stop(s_.get()); }

void Ticker::reset(Duration period) const {
  detail::timer_state_stop(s_.get());
  detail::wl_lock(s_->waiters, detail::LockRank::timer_state);
  if (!s_->armed) {
    s_->period = std::max<std::int64_t>(period.count(), 1);
    s_->consumed = s_->fired;
    s_->arm(detail::nanotime() + s_->period, s_);
  }
  detail::wl_unlock(s_->waiters);
}

}  // namespace weft
