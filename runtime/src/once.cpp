// once.cpp: weft::Once. The slow path serialises on a weft::Mutex, so callers that
// arrive while the first call runs park (never spin) until it returns.
#include "weft/once.h"

#include <mutex>

namespace weft {

void Once::call_slow(detail::Function fn, std::source_location site) {
  std::unique_lock lock(mu_, std::defer_lock);
  lock.lock();
  (void)site;
  if (done_.load(std::memory_order_relaxed)) return;
  fn();  // an exception leaves done_ false and unlocks: a later call retries
  done_.store(true, std::memory_order_release);
}

}  // namespace weft
