// timer.h: per-P timer heaps (Go's runtime timers).
//
// Each P owns a 4-ary min-heap of Timers ordered by `when`, guarded by the P's
// timer_lock. A timer is added to the heap of the P that arms it, so a fiber's timers
// stay near its P and arming never contends across Ps. Expired timers run:
//   - on their own P, each time it schedules (findrunnable);
//   - on idle Ps' behalf, by a spinning M during its steal phase;
//   - because the M that blocks when every P is idle sleeps exactly until the earliest
//     deadline of all heaps (Sched::poll_until), and is woken early when an earlier
//     timer is added;
//   - because sysmon starts an M when a deadline passes and no M is around to see it.
// P::timer0 caches the heap top, so that scans over all Ps are lock-free.
//
// A Timer's callback runs on the scheduler (no fiber context, no locks held): it must be
// short and must not block -- readying a fiber or starting one is the typical body.
// Heap timers are one-shot; periodic timers (Ticker) re-arm themselves from the
// callback. Once popped, a Timer belongs to its callback: the runtime never touches it
// again, so the callback may free it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace weft::detail {

struct P;

struct Timer {
  std::int64_t when = 0;  // deadline, now_ns() clock
  void (*fire)(Timer*, std::int64_t now) = nullptr;
  // discard, if set, is called instead of fire for a timer still armed when the
  // runtime stops (run() returning): its owner lets go of what it kept for the fire.
  void (*discard)(Timer*) = nullptr;
  void* arg = nullptr;
  // Guarded by the owning P's timer_lock:
  std::atomic<P*> p{nullptr};  // heap it is in, nullptr if not armed
  std::int32_t index = -1;
};

class TimerHeap {
 public:
  void push(Timer* t);
  void remove(Timer* t);  // REQUIRES: t is in this heap
  Timer* top() const { return heap_.empty() ? nullptr : heap_[0]; }
  void pop() { remove(heap_[0]); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // take_all() empties the heap and returns what it held, in no order.
  std::vector<Timer*> take_all() {
    for (Timer* t : heap_) t->index = -1;
    return std::move(heap_);
  }

 private:
  void up(std::size_t i);
  void down(std::size_t i);
  void set(std::size_t i, Timer* t) {
    heap_[i] = t;
    t->index = static_cast<std::int32_t>(i);
  }
  std::vector<Timer*> heap_;
};

// timer_add() arms t (t->when, t->fire, t->arg set) on the current P's heap (P 0's from
// outside the runtime). REQUIRES: t is not armed.
void timer_add(Timer* t);
// timer_del() disarms t. Returns true if t was armed (and so will not fire).
bool timer_del(Timer* t);
// timer_run() runs p's expired timers. Returns the heap's next deadline (0: none).
std::int64_t timer_run(P* p, std::int64_t now);
// timers_discard() empties p's heap as the runtime stops, calling each timer's discard.
void timers_discard(P* p);

std::int64_t nanotime();

}  // namespace weft::detail
