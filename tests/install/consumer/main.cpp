// Consumer of an installed weft: starts fibers, waits for them, checks the result.
#include <weft/runtime.h>
#include <weft/waitgroup.h>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> sum{0};
  weft::run([&] {
    weft::WaitGroup wg;
    for (int i = 1; i <= 100; i++) {
      wg.add(1);
      weft::go([wg, i, &sum]() {
        sum += i;
        wg.done();
      });
    }
    wg.wait();
  });
  std::printf("sum=%d\n", sum.load());
  return sum.load() == 5050 ? 0 : 1;
}
