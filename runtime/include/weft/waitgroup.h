// weft/waitgroup.h: wait for a collection of fibers to finish (Go's sync.WaitGroup).
//
// A WaitGroup is a value handle: copies share one counter, so capture it by value.
//
//   weft::WaitGroup wg;
//   for (auto& job : jobs) {
//     wg.add(1);
//     weft::go([wg, &job]() mutable { run(job); wg.done(); });
//   }
//   wg.wait();
#pragma once

#include <cstdint>
#include <memory>
#include <source_location>

namespace weft {

namespace detail {
struct WaitGroupState;
}

class WaitGroup {
 public:
  WaitGroup();

  // add() adds `delta` (may be negative) to the counter; when it reaches zero every
  // fiber blocked in wait() is released. A negative counter throws std::logic_error.
  void add(std::int64_t delta = 1) const;
  // done() is add(-1).
  void done() const { add(-1); }
  // wait() parks until the counter is zero.
  void wait(std::source_location site = std::source_location::current()) const;
  // count() is the current counter, for diagnostics.
  std::int64_t count() const;

 private:
  std::shared_ptr<detail::WaitGroupState> s_;
};

}  // namespace weft
