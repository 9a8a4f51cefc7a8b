// waiter.cpp: the park/wake handshake's out-of-line steps. See waiter.h.
#include "waiter.h"

#include "proc.h"

namespace weft::detail {

// Runs after the switch (post_switch): commit to sleeping unless already woken.
bool waiter_commit(G*, void* arg) {
  auto* w = static_cast<Waiter*>(arg);
  std::uint32_t expected = Waiter::kRunning;
  return waiter_state(w).compare_exchange_strong(expected, Waiter::kParked,
                                                 std::memory_order_acq_rel);
}

// The first half of a two-step claim is a claim whose mark is kClaiming.
bool waiter_claim_begin(Waiter* w, G** to_ready) {
  return waiter_claim(w, Waiter::kClaiming, to_ready);
}

bool waiter_claim(Waiter* w, std::uint32_t how, G** to_ready) {
  G* g = w->g;
  std::atomic<std::uint32_t>& st = waiter_state(w);
  std::uint32_t old = st.load(std::memory_order_acquire);
  for (;;) {
    if (old != Waiter::kRunning && old != Waiter::kParked) {
      *to_ready = nullptr;
      return false;
    }
    if (st.compare_exchange_weak(old, how, std::memory_order_acq_rel)) break;
  }
  *to_ready = old == Waiter::kParked ? g : nullptr;
  return true;
}

bool waiter_wake(Waiter* w, std::uint32_t how) {
  // waiter_claim() reads g before it moves the state: once it has, the waiter may
  // return and its frame (w) die.
  G* g = nullptr;
  if (!waiter_claim(w, how, &g)) return false;
  if (g) ready(g);
  return true;
}

}  // namespace weft::detail
