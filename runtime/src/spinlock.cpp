// spinlock.cpp: the contended half of spin_acquire() (spinlock.h).
#include "spinlock.h"

#include <thread>
#include <vector>

#include "weft/detail/test_hooks.h"

namespace weft::detail {

namespace {
// Calls of the contended path, for TEST_spin_race(): one relaxed add on a path that is
// about to spin anyway.
std::atomic<std::uint64_t> g_contended{0};
}  // namespace

void spin_acquire_contended(std::atomic<std::uint32_t>& word) {
  g_contended.fetch_add(1, std::memory_order_relaxed);
  for (int spins = 0;; spins++) {
    if (spins < 64)
      cpu_relax();
    else
      leaf_sched_yield();  // leaf.h: safe on a fiber's first segment
    if (word.load(std::memory_order_relaxed) == 0 &&
        word.exchange(1, std::memory_order_acquire) == 0)
      return;
  }
}

SpinRaceResult TEST_spin_race(int threads, int increments) {
  std::atomic<std::uint32_t> word{0};
  std::uint64_t counter = 0;  // plain: only the lock orders its updates
  const std::uint64_t before = g_contended.load();
  // Held until every thread has come to it and gone down the contended path, so that
  // path is exercised whatever the machine's timing.
  spin_acquire(word);
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < increments; i++) {
        spin_acquire(word);
        counter = counter + 1;
        spin_release(word);
      }
      done.fetch_add(1);
    });
  // (Or until the threads are done: a lock broken so that they got in would otherwise
  // keep this waiting.)
  while (g_contended.load() - before < static_cast<std::uint64_t>(threads) && done.load() < threads)
    std::this_thread::yield();
  spin_release(word);
  for (auto& t : ts) t.join();
  const auto want = static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(increments);
  return {want - counter, g_contended.load() - before};
}

}  // namespace weft::detail
