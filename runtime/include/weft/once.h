// weft/once.h: run an initialisation exactly once (Go's sync.Once).
//
//   static weft::Once once;
//   once.call([] { load_config(); });
//
// Concurrent callers park until the first call returns. If it throws, the exception
// propagates to that caller and the Once stays un-done, so a later call retries
// (std::call_once's rule; Go's Once would count it as done).
#pragma once

#include <atomic>
#include <source_location>

#include "weft/detail/function.h"
#include "weft/mutex.h"

namespace weft {

class Once {
 public:
  template <class F>
  void call(F&& fn, std::source_location site = std::source_location::current()) {
    if (done_.load(std::memory_order_acquire)) return;
    call_slow(detail::Function(std::forward<F>(fn)), site);
  }
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  void call_slow(detail::Function fn, std::source_location site);
  std::atomic<bool> done_{false};
  Mutex mu_;
};

}  // namespace weft
