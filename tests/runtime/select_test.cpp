// select_test.cpp: select and after() (runtime/src/chan.cpp select_impl, weft/select.h).
#include <atomic>
#include <string>

#include "weft/chan.h"
#include "weft/select.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

class SelectTest : public WeftTest {};
WEFT_INSTANTIATE(SelectTest);

TEST_P(SelectTest, DefaultWhenNothingIsReady) {
  run([&] {
    weft::Chan<int> a(0), b(1);
    bool dflt = false;
    int k = weft::select(weft::on_recv(a, [](std::optional<int>) { FAIL(); }),
                         weft::on_recv(b, [](std::optional<int>) { FAIL(); }),
                         weft::on_default([&] { dflt = true; }));
    EXPECT_EQ(k, 2);
    EXPECT_TRUE(dflt);
  });
}

TEST_P(SelectTest, ReadyCasesFireWithoutBlocking) {
  run([&] {
    weft::Chan<int> in(1);
    weft::Chan<std::string> out(1);
    in.send(5);
    int got = 0;
    int k = weft::select(weft::on_recv(in, [&](std::optional<int> v) { got = *v; }),
                         weft::on_default([] { FAIL(); }));
    EXPECT_EQ(k, 0);
    EXPECT_EQ(got, 5);
    bool sent = false;
    k = weft::select(weft::on_send(out, std::string("x"), [&] { sent = true; }),
                     weft::on_default([] { FAIL(); }));
    EXPECT_EQ(k, 0);
    EXPECT_TRUE(sent);
    EXPECT_EQ(out.recv(), "x");
  });
}

TEST_P(SelectTest, BlocksOnAllAndTheFirstToFireWins) {
  run([&] {
    weft::Chan<int> a(0), b(0);
    int which = -1, value = 0;
    go([b] { b.send(2); });
    int k = weft::select(weft::on_recv(a, [&](std::optional<int> v) { which = 0, value = *v; }),
                         weft::on_recv(b, [&](std::optional<int> v) { which = 1, value = *v; }));
    EXPECT_EQ(k, 1);
    EXPECT_EQ(which, 1);
    EXPECT_EQ(value, 2);
    // The select forgot its waiter on `a`: a later value on `a` goes to a new receiver.
    go([a] { a.send(3); });
    EXPECT_EQ(a.recv(), 3);
  });
}

TEST_P(SelectTest, SendCaseMeetsAWaitingReceiver) {
  run([&] {
    weft::Chan<int> out(0);
    std::atomic<int> got{0};
    weft::WaitGroup wg;
    wg.add(1);
    weft::go([out, wg, &got] {
      got = *out.recv();
      wg.done();
    });
    bool sent = false;
    weft::select(weft::on_send(out, 9, [&] { sent = true; }));
    wg.wait();
    EXPECT_TRUE(sent);
    EXPECT_EQ(got.load(), 9);
  });
}

TEST_P(SelectTest, ClosedChannelsAndNilChannels) {
  run([&] {
    weft::Chan<int> closed(0), nil;
    closed.close();
    bool saw_closed = false;
    weft::select(weft::on_recv(nil, [](std::optional<int>) { FAIL(); }),
                 weft::on_recv(closed, [&](std::optional<int> v) { saw_closed = !v; }));
    EXPECT_TRUE(saw_closed);
    EXPECT_THROW(weft::select(weft::on_send(closed, 1, [] {})), weft::ChanClosedError);
    // A select parked on a channel that gets closed wakes with "closed".
    weft::Chan<int> later(0);
    go([later] {
      weft::sleep_for(1ms);
      later.close();
    });
    bool woke_closed = false;
    weft::select(weft::on_recv(later, [&](std::optional<int> v) { woke_closed = !v; }),
                 weft::on_recv(nil, [](std::optional<int>) { FAIL(); }));
    EXPECT_TRUE(woke_closed);
  });
}

TEST_P(SelectTest, AfterTimesOut) {
  run([&] {
    weft::Chan<int> never(0);
    auto t0 = weft::Clock::now();
    bool timed_out = false;
    weft::select(weft::on_recv(never, [](std::optional<int>) { FAIL(); }),
                 weft::on_recv(weft::after(3ms), [&](auto) { timed_out = true; }));
    EXPECT_TRUE(timed_out);
    EXPECT_GE(weft::Clock::now() - t0, 3ms);
  });
}

TEST_P(SelectTest, FairAmongReadyCases) {
  // Two always-ready channels: each must be chosen about half the time. With 10000
  // rounds, 40%..60% is more than 20 standard deviations wide.
  run([&] {
    weft::Chan<int> a(1), b(1);
    int na = 0, nb = 0;
    for (int i = 0; i < 10000; i++) {
      a.try_send(1);
      b.try_send(2);
      weft::select(weft::on_recv(a, [&](std::optional<int>) { na++; }),
                   weft::on_recv(b, [&](std::optional<int>) { nb++; }));
    }
    EXPECT_GT(na, 4000);
    EXPECT_GT(nb, 4000);
  });
}

TEST_P(SelectTest, NoLostWakeupsFanIn) {
  // 4 producers on buffered channels, one consumer selecting over all of them.
  constexpr int kEach = 25000;
  long total = 0;
  run([&] {
    weft::Chan<int> c[4] = {weft::Chan<int>(64), weft::Chan<int>(64), weft::Chan<int>(64),
                            weft::Chan<int>(64)};
    weft::WaitGroup producers;
    for (auto& ch : c) {
      producers.add(1);
      weft::go([ch, producers] {
        for (int i = 0; i < kEach; i++) ch.send(1);
        producers.done();
      });
    }
    for (int got = 0; got < 4 * kEach; got++) {
      auto add = [&](std::optional<int> v) { total += *v; };
      weft::select(weft::on_recv(c[0], add), weft::on_recv(c[1], add), weft::on_recv(c[2], add),
                   weft::on_recv(c[3], add));
    }
    producers.wait();
  });
  EXPECT_EQ(total, 4L * kEach);
}

}  // namespace
