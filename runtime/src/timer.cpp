// timer.cpp: per-P timer heaps. See timer.h.
#include "timer.h"

#include "proc.h"
#include "systemstack.h"

namespace weft::detail {

// A 4-ary heap: shallower than binary, and the four children share a cache line.
void TimerHeap::push(Timer* t) {
  heap_.push_back(t);
  set(heap_.size() - 1, t);
  up(heap_.size() - 1);
}

void TimerHeap::remove(Timer* t) {
  std::size_t i = static_cast<std::size_t>(t->index);
  std::size_t last = heap_.size() - 1;
  if (i != last) {
    set(i, heap_[last]);
    heap_.pop_back();
    down(i);
    up(i);
  } else {
    heap_.pop_back();
  }
  t->index = -1;
}

void TimerHeap::up(std::size_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 4;
    if (heap_[parent]->when <= t->when) break;
    set(i, heap_[parent]);
    i = parent;
  }
  set(i, t);
}

void TimerHeap::down(std::size_t i) {
  Timer* t = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t c = i * 4 + 1;
    if (c >= n) break;
    std::size_t best = c;
    for (std::size_t k = c + 1; k < c + 4 && k < n; k++)
      if (heap_[k]->when < heap_[best]->when) best = k;
    if (heap_[best]->when >= t->when) break;
    set(i, heap_[best]);
    i = best;
  }
  set(i, t);
}

namespace {
void update_timer0(P* p) {
  Timer* top = p->timers.top();
  p->timer0.store(top ? top->when : 0, std::memory_order_seq_cst);
}
}  // namespace

void timer_add_impl(Timer* t);
bool timer_del_impl(Timer* t);

// Both run on the system stack: they may take runtime locks and wake threads.
void timer_add(Timer* t) {
  systemstack([t] { timer_add_impl(t); });
}

bool timer_del(Timer* t) {
  bool r = false;
  systemstack([&] { r = timer_del_impl(t); });
  return r;
}

void timer_add_impl(Timer* t) {
  M* m = getm();
  P* p = m && m->p ? m->p : (m && m->oldp ? m->oldp : sched->allp[0]);
  // Once the lock is released the timer may fire at once and its owner reuse it (a
  // sleep_for Timer lives on the sleeping fiber's stack): read nothing from t after.
  const std::int64_t when = t->when;
  p->timer_lock.lock();
  t->p.store(p, std::memory_order_release);
  p->timers.push(t);
  const bool earliest = p->timers.top() == t;
  if (earliest) update_timer0(p);
  p->timer_lock.unlock();
  if (!earliest) return;
  // Make sure some M will wake for it: the M sleeping until the next timer (if it
  // sleeps past this one), or -- when added from outside a P -- sysmon and a spinner.
  if (sched->poller_busy.load(std::memory_order_seq_cst)) {
    std::int64_t until = sched->poll_until.load(std::memory_order_seq_cst);
    if (until == 0 || when < until) poll_break();
  }
  if (!m || !m->p) {
    sysmon_wake(sched);
    wakep();
  }
}

bool timer_del_impl(Timer* t) {
  for (;;) {
    P* p = t->p.load(std::memory_order_acquire);
    if (!p) return false;
    p->timer_lock.lock();
    if (t->p.load(std::memory_order_relaxed) != p) {
      p->timer_lock.unlock();
      continue;  // fired, or moved: look again
    }
    const bool was_top = p->timers.top() == t;
    p->timers.remove(t);
    t->p.store(nullptr, std::memory_order_release);
    if (was_top) update_timer0(p);
    p->timer_lock.unlock();
    return true;
  }
}

std::int64_t timer_run(P* p, std::int64_t now) {
  p->timer_lock.lock();
  for (;;) {
    Timer* t = p->timers.top();
    if (!t || t->when > now) break;
    p->timers.pop();
    t->p.store(nullptr, std::memory_order_release);
    update_timer0(p);
    auto fire = t->fire;
    p->timer_lock.unlock();
    // From here on t belongs to its callback, which may free it or re-arm it.
    fire(t, now);
    sched->n_timer_fires.fetch_add(1, std::memory_order_relaxed);
    p->timer_lock.lock();
  }
  Timer* top = p->timers.top();
  std::int64_t next = top ? top->when : 0;
  p->timer_lock.unlock();
  return next;
}

void timers_discard(P* p) {
  p->timer_lock.lock();
  std::vector<Timer*> armed = p->timers.take_all();
  update_timer0(p);
  p->timer_lock.unlock();
  // Called before the fibers are freed: a timer without discard (a sleep's, on a
  // fiber's stack) is still there to be marked unarmed, and is then simply forgotten.
  for (Timer* t : armed) {
    t->p.store(nullptr, std::memory_order_release);
    if (t->discard) t->discard(t);
  }
}

}  // namespace weft::detail
