// Consumer of an installed weft: starts fibers, waits for them, checks the result; sends
// bytes through an in-memory socket pair (weft::net) and an AMQP frame through the
// installed codec (weft::amqp).
#include <weft/amqp/frame.h>
#include <weft/net.h>
#include <weft/runtime.h>
#include <weft/waitgroup.h>

#include <atomic>
#include <cstdio>
#include <string>

int main() {
  std::atomic<int> sum{0};
  std::string echoed;
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
    auto [a, b] = weft::net::pipe();
    if (a.write("ping")) {
      char buf[4];
      if (b.read_full(buf, 4)) echoed.assign(buf, 4);
    }
  });
  weft::amqp::FrameEncoder enc;
  enc.heartbeat();
  const bool amqp_ok = enc.buffer().size() == 8;
  std::printf("sum=%d echoed=%s amqp=%d\n", sum.load(), echoed.c_str(), amqp_ok);
  return sum.load() == 5050 && echoed == "ping" && amqp_ok ? 0 : 1;
}
