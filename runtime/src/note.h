// note.h: a one-shot sleep/wakeup event for OS threads (Go's note), on a futex.
//
// An idle M sleeps on its note; whoever hands it a P wakes it. wakeup() before sleep()
// is not lost: sleep() then returns at once. clear() re-arms the note; only its owner
// calls sleep() and clear().
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace weft::detail {

class Note {
 public:
  // sleep() blocks the thread until wakeup(). Returns true if woken.
  bool sleep() { return sleep_until_ns(-1); }
  // sleep_until_ns() blocks until wakeup() or the CLOCK_MONOTONIC deadline (-1: none).
  bool sleep_until_ns(std::int64_t deadline_ns) {
    while (word_.load(std::memory_order_acquire) == 0) {
      struct timespec ts, *tsp = nullptr;
      if (deadline_ns >= 0) {
        ts.tv_sec = deadline_ns / 1000000000;
        ts.tv_nsec = deadline_ns % 1000000000;
        tsp = &ts;
      }
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
      long r =
          syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_),
                  FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
      if (r != 0 && errno == ETIMEDOUT) return word_.load(std::memory_order_acquire) != 0;
    }
    return true;
  }
  void wakeup() {
    if (word_.exchange(1, std::memory_order_release) == 0)
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
              1, nullptr, nullptr, 0);
  }
  void clear() { word_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> word_{0};
};

}  // namespace weft::detail
