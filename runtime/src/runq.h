// runq.h: a P's local run queue (Go's runqput/runqget/runqsteal), plus a front door.
//
// A bounded single-producer, multi-consumer ring. Only the owner P pushes: at the tail
// (push: it alone writes `tail`) or, for a fiber's freshly spawned children, at the
// head (push_front: by CAS on `head`, like a pop in reverse). The owner and thieves pop
// by CAS on `head`. Entries are atomics read relaxed: a thief may read a slot that the
// owner is about to overwrite, but then its CAS on head fails and the value is
// discarded (the slot is only reused after head has moved past it). `head` carries a
// tag in its upper half that every push_front bumps: without it, a pop then a
// push_front would put head back where a slow thief read it, and that thief's CAS
// would succeed on the slot's old contents (ABA). Overflow moves half of the ring to
// the global queue in one batch, so the amortized cost of a push stays O(1).
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
    std::uint32_t h = index(head_.load(std::memory_order_acquire));
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= kSize) return false;
    buf_[t % kSize].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // push_front() puts g before everything queued, to run next after runnext. Owner
  // only. Returns false if full.
  bool push_front(G* g) {
    for (;;) {
      std::uint64_t v = head_.load(std::memory_order_acquire);
      std::uint32_t h = index(v);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t - h >= kSize) return false;
      buf_[(h - 1) % kSize].store(g, std::memory_order_release);  // for front()
      if (head_.compare_exchange_weak(v, pack(tag(v) + 1, h - 1), std::memory_order_release,
                                      std::memory_order_relaxed))
        return true;
    }
  }

  // pop_behind() removes the first G for which `in_front` is false -- the oldest one
  // queued at the tail, when the Gs pushed at the front form a prefix -- and leaves the
  // ones before it where they were. Owner only. nullptr if every queued G is in front.
  // The prefix (at most kMaxPrefix Gs; past that it gives up) is taken out with the G
  // by one CAS and pushed back at the front: thieves never see a half-moved ring.
  static constexpr std::uint32_t kMaxPrefix = 64;
  template <class InFront>
  G* pop_behind(InFront in_front) {
    G* prefix[kMaxPrefix];
    for (;;) {
      std::uint64_t v = head_.load(std::memory_order_acquire);
      std::uint32_t h = index(v);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      std::uint32_t n = 0;
      G* g = nullptr;
      for (; h + n != t; n++) {
        g = buf_[(h + n) % kSize].load(std::memory_order_relaxed);
        if (!in_front(g)) break;
        if (n == kMaxPrefix) return nullptr;
        prefix[n] = g;
      }
      if (h + n == t) return nullptr;
      if (!head_.compare_exchange_weak(v, pack(tag(v), h + n + 1), std::memory_order_release,
                                       std::memory_order_relaxed))
        continue;  // a thief moved head: look again
      // Room for the prefix: n + 1 slots were just freed, and only the owner pushes.
      while (n > 0) push_front(prefix[--n]);
      return g;
    }
  }

  // pop() removes the G at the head. Owner only (thieves use grab()).
  G* pop() {
    for (;;) {
      std::uint64_t v = head_.load(std::memory_order_acquire);
      std::uint32_t h = index(v);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      G* g = buf_[h % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(v, pack(tag(v), h + 1), std::memory_order_release,
                                      std::memory_order_relaxed))
        return g;
    }
  }

  // grab() removes up to half of the queue (at least one if non-empty) into out[],
  // which must hold kSize/2 entries. Any thread. Returns the count.
  std::uint32_t grab(G** out) {
    for (;;) {
      std::uint64_t v = head_.load(std::memory_order_acquire);
      std::uint32_t h = index(v);
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) return 0;
      if (n > kSize / 2) continue;  // read h and t inconsistently; retry
      for (std::uint32_t i = 0; i < n; i++)
        out[i] = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(v, pack(tag(v), h + n), std::memory_order_release,
                                      std::memory_order_relaxed))
        return n;
    }
  }

  // take_half() removes half of a full queue for spilling. Owner only.
  std::uint32_t take_half(G** out) {
    std::uint64_t v = head_.load(std::memory_order_acquire);
    std::uint32_t h = index(v);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = (t - h) / 2;
    for (std::uint32_t i = 0; i < n; i++)
      out[i] = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(v, pack(tag(v), h + n), std::memory_order_release,
                                       std::memory_order_relaxed))
      return 0;  // a thief took some meanwhile: there is room now
    return n;
  }

  // back() is the G at the tail, or nullptr if the queue is empty. Owner only; a thief
  // may have taken it meanwhile (Gs are never freed while the runtime runs).
  G* back() const {
    std::uint32_t h = index(head_.load(std::memory_order_acquire));
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    return t == h ? nullptr : buf_[(t - 1) % kSize].load(std::memory_order_relaxed);
  }

  // front() is the G at the head -- the next a thief takes -- or nullptr, for a thief to
  // look at. The head is read again after the slot: the owner may have popped that G and
  // pushed a new one at the front into the same slot, and only an unchanged head (its
  // tag moves with every push at the front) says the slot's G is the one published with
  // the head this call acquired -- so that its fields may be read. nullptr too when the
  // head moved meanwhile.
  G* front() const {
    const std::uint64_t v = head_.load(std::memory_order_acquire);
    const std::uint32_t h = index(v);
    const std::uint32_t t = tail_.load(std::memory_order_acquire);
    if (t == h) return nullptr;
    // Acquire, against push_front()'s release: a G written there after a pop makes the
    // second look see that pop's head.
    G* g = buf_[h % kSize].load(std::memory_order_acquire);
    return head_.load(std::memory_order_acquire) == v ? g : nullptr;
  }

  std::uint32_t size() const {
    std::uint32_t h = index(head_.load(std::memory_order_acquire));
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const { return size() == 0; }

 private:
  static std::uint32_t index(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
  static std::uint32_t tag(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); }
  static std::uint64_t pack(std::uint32_t tag, std::uint32_t index) {
    return std::uint64_t{tag} << 32 | index;
  }

  alignas(64) std::atomic<std::uint64_t> head_{0};  // tag << 32 | index
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<G*> buf_[kSize] = {};
};

}  // namespace weft::detail
