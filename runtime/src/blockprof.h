// blockprof.h: recording where fibers block and for how long (block and mutex profiles).
//
// Every blocking operation (channel op, select, mutex, rwmutex, condition wait,
// WaitGroup, semaphore, sleep is *not* one: Go excludes it too) brackets its park with
//   std::int64_t t0 = block_start();       // 0 unless a profile is on: one load
//   ... park ...
//   block_end(t0, WaitReason::mutex, site);
// and contended mutexes additionally call mutex_contended(). Records are aggregated per
// (site, reason) in a table; the pprof writers of a later layer add stacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <source_location>

#include "timer.h"  // nanotime()
#include "weft/introspect.h"

namespace weft::detail {

// The profiles' settings (set_block_profile_rate(), set_mutex_profile_fraction()).
extern std::atomic<std::int64_t> g_block_rate;
extern std::atomic<int> g_mutex_fraction;

void block_record(std::int64_t t0, WaitReason reason, const std::source_location& site);
void mutex_record(std::int64_t t0, const std::source_location& site);

// All four are inline so that a blocking path with profiling off pays a load and a
// compare, and never even calls the (library-using) recorder.
inline std::int64_t block_start() {
  return g_block_rate.load(std::memory_order_relaxed) > 0 ? nanotime() : 0;
}
inline std::int64_t mutex_start() {
  return g_mutex_fraction.load(std::memory_order_relaxed) > 0 ? nanotime() : 0;
}
inline void block_end(std::int64_t t0, WaitReason reason, const std::source_location& site) {
  if (t0 != 0) block_record(t0, reason, site);
}
inline void mutex_end(std::int64_t t0, const std::source_location& site) {
  if (t0 != 0) mutex_record(t0, site);
}

}  // namespace weft::detail
