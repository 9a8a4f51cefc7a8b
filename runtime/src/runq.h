// runq.h: a P's local run queue (Go's runqput/runqget/runqsteal).
//
// A bounded single-producer, multi-consumer ring. Only the owner P pushes (it alone
// writes `tail`); the owner and thieves pop by CAS on `head`. Entries are atomics read
// relaxed: a thief may read a slot that the owner is about to overwrite, but then its
// CAS on head fails and the value is discarded (the slot is only reused after head has
// moved past it). Overflow moves half of the ring to the global queue in one batch, so
// the amortized cost of a push stays O(1).
#pragma once

#include <atomic>
#include <cstdint>

#include "g.h"

namespace weft::detail {

class Runq {
 public:
  static constexpr std::uint32_t kSize = 256;

  // push() appends g. Owner only. Returns false if full (caller spills half, see sched).
  bool push(G* g) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= kSize) return false;
    buf_[t % kSize].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // pop() removes the oldest G. Owner only (thieves use grab()).
  G* pop() {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      G* g = buf_[h % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                      std::memory_order_relaxed))
        return g;
    }
  }

  // grab() removes up to half of the queue (at least one if non-empty) into out[],
  // which must hold kSize/2 entries. Any thread. Returns the count.
  std::uint32_t grab(G** out) {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) return 0;
      if (n > kSize / 2) continue;  // read h and t inconsistently; retry
      for (std::uint32_t i = 0; i < n; i++)
        out[i] = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_release,
                                      std::memory_order_relaxed))
        return n;
    }
  }

  // take_half() removes half of a full queue for spilling. Owner only.
  std::uint32_t take_half(G** out) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = (t - h) / 2;
    for (std::uint32_t i = 0; i < n; i++)
      out[i] = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                       std::memory_order_relaxed))
      return 0;  // a thief took some meanwhile: there is room now
    return n;
  }

  std::uint32_t size() const {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const { return size() == 0; }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<G*> buf_[kSize] = {};
};

}  // namespace weft::detail
