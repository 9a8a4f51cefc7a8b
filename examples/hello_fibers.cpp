// hello_fibers: the runtime demo (the main program until weftd lands).
// Starts a tree of fibers, ping-pongs through a mutex and a condition variable, sleeps,
// then prints what the scheduler did.
#include <cstdio>
#include <mutex>

#include "weft/condition_variable.h"
#include "weft/introspect.h"
#include "weft/mutex.h"
#include "weft/runtime.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace {

long tree(int depth) {
  if (depth == 0) return 1;
  weft::WaitGroup wg;
  long left = 0, right = 0;
  wg.add(2);
  weft::go([&, wg] {
    left = tree(depth - 1);
    wg.done();
  });
  weft::go([&, wg] {
    right = tree(depth - 1);
    wg.done();
  });
  wg.wait();
  return left + right;
}

}  // namespace

int main() {
  return weft::run([] {
    auto t0 = weft::now_ns();
    long leaves = tree(16);
    std::printf("fiber tree: %ld leaves in %.1f ms\n", leaves, (weft::now_ns() - t0) / 1e6);

    weft::Mutex mu;
    weft::ConditionVariable cv;
    int turn = 0;
    weft::WaitGroup wg;
    for (int side = 0; side < 2; side++) {
      wg.add(1);
      weft::go("pingpong", [&, side, wg] {
        for (int i = 0; i < 100000; i++) {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return turn == side; });
          turn = 1 - side;
          cv.notify_one();
        }
        wg.done();
      });
    }
    wg.wait();
    weft::sleep_for(std::chrono::milliseconds(10));
    auto st = weft::stats();
    std::printf("procs=%d threads=%d spawned=%llu switches=%llu steals=%llu parks=%llu\n", st.procs,
                st.threads, static_cast<unsigned long long>(st.spawned),
                static_cast<unsigned long long>(st.switches),
                static_cast<unsigned long long>(st.steals),
                static_cast<unsigned long long>(st.parks));
  });
}
