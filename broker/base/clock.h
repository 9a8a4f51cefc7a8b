// base/clock.h: the broker's one clock for intervals -- heartbeats, last read and
// write times -- monotonic nanoseconds (steady_clock), so that a wall-clock step never
// looks like silence.
#pragma once

#include <chrono>
#include <cstdint>

namespace weftd {

inline std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace weftd
