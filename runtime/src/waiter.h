// waiter.h: a parked fiber's place in a wait list (Go's sudog).
//
// A Waiter lives on the stack of the fiber it describes, for the duration of one wait.
// It carries the park/wake handshake that makes wake-ups impossible to lose without
// holding any lock across the context switch:
//
//   waiter                               waker
//   lock list; push w; unlock list       lock list; pop w; unlock list
//   park(commit)  -- after the switch:   wake(w):
//     CAS state running -> parked          old = exchange(state, woken)
//     failed? (already woken) resume       old == parked? ready(w->g)
//
// Whichever of "commit" and "wake" comes second sees the other's mark, so exactly one
// of them makes the fiber runnable. Timed waits race a timer against the waker with
// the same word: the first to move `state` to a woken value wins and says how.
#pragma once

#include <atomic>
#include <cstdint>

#include "check.h"
#include "g.h"
#include "proc.h"
#include "spinlock.h"
#include "weft/detail/wait_list.h"

namespace weft::detail {

// A select parks one fiber on several channels: its Waiters share one state word, so
// the first waker to claim any of them wins and the others' claims fail.
struct SelectState {
  std::atomic<std::uint32_t> state{0};  // Waiter::kRunning
};

struct Waiter {
  // kClaiming: a waker has won the waiter and is still writing its results (channels);
  // the waiter waits for kWoken before it reads them.
  enum : std::uint32_t { kRunning = 0, kParked = 1, kWoken = 2, kTimedOut = 3, kClaiming = 4 };

  G* g = nullptr;
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  std::atomic<std::uint32_t> state{kRunning};
  bool linked = false;
  // Per-primitive payload. One cache line in all, so that the Waiter every blocking
  // call builds on its stack is zeroed with a few stores (at 80 bytes GCC used a
  // `rep stos`; measured: docs/benchmarks.md, sixth session); hence the union.
  bool writer = false;                 // rwmutex
  bool handoff = false;                // mutex: ownership came with the wake-up;
                                       // channels: the value was handed over
  bool fired = false;                  // select: this case was the one completed (under its lock)
  std::atomic<bool> timer_done{true};  // timed waits: the timeout callback has finished
  union {
    std::int64_t wait_start = 0;  // mutex: nanotime() at enqueue (starvation)
    std::int64_t n;               // semaphore: permits wanted
    void* elem;                   // channels: the value's address
  };
  SelectState* sel = nullptr;  // select: the shared state word (else `state` is used)
  void* chan = nullptr;        // select: the channel whose queue holds this Waiter
};
static_assert(sizeof(Waiter) == 64, "a Waiter is one cache line: see its payload");

// List operations. REQUIRES: the list's lock is held -- its own, or `guard` if given
// (a channel's sendq_ is guarded by its recvq_'s lock): checked where checks are on.
// wl_guard() is that lock.
// Inline, as is the handshake's last step below: each is a handful of instructions on
// every blocking operation's path, where a call's prologue and epilogue cost as much.
// wl_insert() links w between prev and next, neighbours in l (a null one is that end).
inline const std::atomic<std::uint32_t>* wl_guard(const WaitList& l,
                                                  const std::atomic<std::uint32_t>* guard) {
  return guard ? guard : &l.lock;
}
inline void wl_insert(WaitList& l, Waiter* prev, Waiter* next, Waiter* w,
                      const std::atomic<std::uint32_t>* guard = nullptr) {
  WEFT_ASSERT(lock_rank_held(wl_guard(l, guard)));
  WEFT_ASSERT(!w->linked);
  w->prev = prev;
  w->next = next;
  (prev ? prev->next : l.head) = w;
  (next ? next->prev : l.tail) = w;
  w->linked = true;
}
inline void wl_push_back(WaitList& l, Waiter* w,
                         const std::atomic<std::uint32_t>* guard = nullptr) {
  wl_insert(l, l.tail, nullptr, w, guard);
}
inline void wl_push_front(WaitList& l, Waiter* w,
                          const std::atomic<std::uint32_t>* guard = nullptr) {
  wl_insert(l, nullptr, l.head, w, guard);
}
inline void wl_remove(WaitList& l, Waiter* w,  // REQUIRES: w->linked
                      const std::atomic<std::uint32_t>* guard = nullptr) {
  WEFT_ASSERT(lock_rank_held(wl_guard(l, guard)));
  WEFT_ASSERT(w->linked);
  (w->prev ? w->prev->next : l.head) = w->next;
  (w->next ? w->next->prev : l.tail) = w->prev;
  w->next = w->prev = nullptr;
  w->linked = false;
}
inline bool wl_empty(const WaitList& l) { return l.head == nullptr; }
// wl_pop_front() is wl_remove() of the head, whose prev is null.
inline Waiter* wl_pop_front(WaitList& l, const std::atomic<std::uint32_t>* guard = nullptr) {
  WEFT_ASSERT(lock_rank_held(wl_guard(l, guard)));
  Waiter* w = l.head;
  if (w) {
    Waiter* next = w->next;
    l.head = next;
    (next ? next->prev : l.tail) = nullptr;
    w->next = nullptr;
    w->linked = false;
  }
  return w;
}

// The word the park/wake handshake runs on: the select's shared one, or the Waiter's.
inline std::atomic<std::uint32_t>& waiter_state(Waiter* w) {
  return w->sel ? w->sel->state : w->state;
}

// wl_lock() takes l's lock, of rank wait_list unless the list is a timer's
// (timer_state: time.cpp); wl_unlock() releases it.
inline void wl_lock(WaitList& l, LockRank r = LockRank::wait_list) { spin_lock(l.lock, r); }
inline void wl_unlock(WaitList& l) { spin_unlock(l.lock); }

// waiter_park() parks the calling fiber until waiter_wake(w) (or a timeout) moves
// w->state to a woken value. Returns that value.
// Inline, as is the switch below it (context.h): each call left between a parking fiber
// and the jump is a return that mispredicts when the fiber is resumed.
bool waiter_commit(G*, void* arg);  // park()'s unlock step: kRunning -> kParked, or refuse
inline std::uint32_t waiter_park(Waiter* w, WaitReason reason) {
  std::atomic<std::uint32_t>& st = waiter_state(w);
  if (st.load(std::memory_order_acquire) == Waiter::kRunning) park(reason, waiter_commit, w);
  std::uint32_t s;
  while ((s = st.load(std::memory_order_acquire)) == Waiter::kClaiming) cpu_relax();
  return s;
}

// waiter_wake() wakes w's fiber unless someone else already has; returns true if this
// call was the one that woke it. `how` is kWoken or kTimedOut.
bool waiter_wake(Waiter* w, std::uint32_t how = Waiter::kWoken);
// waiter_claim() is the first half of waiter_wake(), for wakers that must finish with w
// under the list lock (a timed waiter may otherwise return and reuse w's memory while
// the waker still holds it): it moves the state and returns true if this call won;
// *to_ready is then the G to pass to ready() after the lock is released, or nullptr.
bool waiter_claim(Waiter* w, std::uint32_t how, G** to_ready);
// waiter_claim_begin()/waiter_claim_end() claim in two steps, for wakers that hand the
// waiter results (a channel element, a flag): begin wins the waiter (false if someone
// else already has), the waker writes the results, end publishes them and releases it.
bool waiter_claim_begin(Waiter* w, G** to_ready);
inline void waiter_claim_end(Waiter* w) {
  waiter_state(w).store(Waiter::kWoken, std::memory_order_release);
}

}  // namespace weft::detail
