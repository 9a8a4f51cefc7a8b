// weft/rwmutex.h: a reader/writer lock that parks fibers, not threads.
//
// Writer-preferring, like Go's sync.RWMutex: once a writer waits, new readers queue
// behind it, so a stream of readers cannot starve writers. When the writer unlocks,
// every reader that queued behind it is admitted at once.
//
//   weft::RWMutex mu;
//   { std::shared_lock r(mu); read(table); }
//   { std::unique_lock w(mu); write(table); }
#pragma once

#include <cstdint>
#include <source_location>

#include "weft/detail/wait_list.h"

namespace weft {

class RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // lock() acquires exclusive ownership, parking until readers and writer are gone.
  void lock(std::source_location site = std::source_location::current());
  bool try_lock();
  // unlock() releases exclusive ownership and admits the readers queued behind it.
  void unlock();
  // lock_shared() acquires shared ownership; parks while a writer holds or awaits it.
  void lock_shared(std::source_location site = std::source_location::current());
  bool try_lock_shared();
  void unlock_shared();

 private:
  // All fields are guarded by waiters_.lock (a short spin lock; never held across a
  // park: the park releases it after the fiber has switched away).
  std::int32_t readers_ = 0;          // active readers
  bool writer_ = false;               // a writer holds the lock
  std::int32_t writers_waiting_ = 0;  // writers queued in waiters_
  detail::WaitList waiters_;          // readers and writers, FIFO
};

}  // namespace weft
