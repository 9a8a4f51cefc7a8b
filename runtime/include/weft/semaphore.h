// weft/semaphore.h: a counting semaphore that parks fibers, not threads.
//
// Fair: permits go to waiters in FIFO order, and a large request at the head of the
// queue is not overtaken by small ones (golang.org/x/sync/semaphore's rule).
//
//   weft::Semaphore sem(8);        // at most 8 concurrent uploads
//   sem.acquire(); upload(f); sem.release();
#pragma once

#include <cstdint>
#include <source_location>

#include "weft/detail/wait_list.h"

namespace weft {

class Semaphore {
 public:
  explicit Semaphore(std::int64_t permits) : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // acquire() takes `n` permits, parking until they are available.
  void acquire(std::int64_t n = 1, std::source_location site = std::source_location::current());
  // try_acquire() takes `n` permits if available now and nobody is queued.
  bool try_acquire(std::int64_t n = 1);
  // release() returns `n` permits and wakes the waiters they satisfy.
  void release(std::int64_t n = 1);
  std::int64_t available() const;

 private:
  std::int64_t permits_;  // guarded by waiters_.lock
  detail::WaitList waiters_;
};

}  // namespace weft
