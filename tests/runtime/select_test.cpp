// select_test.cpp: select, after() and tick() (runtime/src/chan.cpp select_impl,
// runtime/src/time.cpp tick(), weft/select.h).
#include "weft/select.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <vector>

#include "weft/chan.h"
#include "weft/introspect.h"
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

// Past eight cases the waiters no longer fit in select's frame and go to the heap.
TEST_P(SelectTest, ManyCasesBlockAndFire) {
  run([&] {
    std::vector<weft::Chan<int>> c;
    for (int i = 0; i < 12; i++) c.emplace_back(0);
    for (int target : {11, 0, 7}) {
      int which = -1, value = 0;
      auto on = [&](int i) {
        return weft::on_recv(c[i], [&, i](std::optional<int> v) { which = i, value = *v; });
      };
      go([ch = c[target], target] { ch.send(100 + target); });
      int k = weft::select(on(0), on(1), on(2), on(3), on(4), on(5), on(6), on(7), on(8), on(9),
                           on(10), on(11));
      EXPECT_EQ(k, target);
      EXPECT_EQ(which, target);
      EXPECT_EQ(value, 100 + target);
    }
    join();
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
    // Closing an after() channel before it fires is harmless: the send into it is
    // dropped, it does not panic its timer's fiber.
    auto early = weft::after(1ms);
    early.close();
    weft::sleep_for(3ms);  // armed after `early` on this P's heap: fires after it
    while (weft::fibers().size() > 1) weft::yield();  // the timer's fiber has finished
  });
}

TEST_P(SelectTest, TickDeliversUntilTheLoopStops) {
  // A select loop over a tick channel and a quit channel: after the third tick it asks a
  // helper to close `quit`, and goes on receiving ticks until it sees that.
  run([&] {
    weft::Chan<int> third(0), quit(0);
    go([third, quit] {
      third.recv();
      quit.close();
    });
    int ticks = 0;
    bool stop = false;
    std::optional<weft::Clock::time_point> last;
    {
      auto ticker = weft::tick(1ms);
      ASSERT_FALSE(ticker.nil());
      EXPECT_EQ(ticker.cap(), 1u);  // one slot: a slow reader misses ticks
      while (!stop) {
        weft::select(weft::on_recv(ticker,
                                   [&](std::optional<weft::Clock::time_point> t) {
                                     ASSERT_TRUE(t.has_value());  // never closed by the runtime
                                     if (last) {
                                       EXPECT_GE(*t, *last);
                                     }
                                     last = t;
                                     if (++ticks == 3) third.send(1);
                                   }),
                     weft::on_recv(quit, [&](std::optional<int> v) {
                       EXPECT_FALSE(v.has_value());
                       stop = true;
                     }));
      }
    }  // the last handle goes: the ticker stops (an armed one would leak at exit, ASan)
    EXPECT_GE(ticks, 3);
  });
}

TEST_P(SelectTest, TickEdgeCases) {
  run([&] {
    // d <= 0 is the nil channel, as in Go: its case never fires.
    EXPECT_TRUE(weft::tick(0ms).nil());
    EXPECT_TRUE(weft::tick(-1ms).nil());
    bool dflt = false;
    weft::select(weft::on_recv(weft::tick(0ms), [](auto) { FAIL(); }),
                 weft::on_default([&] { dflt = true; }));
    EXPECT_TRUE(dflt);
    // A slow reader finds at most one tick waiting, however many it missed.
    auto slow = weft::tick(100us);
    weft::sleep_for(2ms);
    EXPECT_LE(slow.len(), 1u);
    EXPECT_TRUE(slow.recv().has_value());
    // Closing a tick channel stops its ticker (the timer callback must not throw).
    auto closed = weft::tick(100us);
    closed.close();
    weft::sleep_for(2ms);
    bool was_closed = false;
    EXPECT_FALSE(closed.try_recv(&was_closed).has_value());
    EXPECT_TRUE(was_closed);
    // A channel dropped at once: its ticker stops before it ever fires.
    (void)weft::tick(1h);
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

TEST_P(SelectTest, FairAmongReadyCasesOfManyAndOfSome) {
  // Uniform among the ready cases whichever they are: 5 cases (the in-register shuffle,
  // up to 16), 20 cases (the in-memory one), and 3 ready cases out of 6 at uneven places
  // (a random starting point alone would favour the case after the unready run).
  // Each count is within 7 standard deviations of its mean.
  auto counts = [](int n, std::vector<int> ready, int rounds) {
    std::vector<weft::Chan<int>> chans;
    for (int i = 0; i < n; i++) chans.emplace_back(1);
    std::vector<int> hits(static_cast<std::size_t>(n));
    auto on = [&](int i) {
      return weft::on_recv(chans[static_cast<std::size_t>(i)],
                           [&hits, i](std::optional<int>) { hits[static_cast<std::size_t>(i)]++; });
    };
    for (int r = 0; r < rounds; r++) {
      for (int i : ready) chans[static_cast<std::size_t>(i)].try_send(i);
      if (n == 5)
        weft::select(on(0), on(1), on(2), on(3), on(4));
      else if (n == 6)
        weft::select(on(0), on(1), on(2), on(3), on(4), on(5));
      else
        weft::select(on(0), on(1), on(2), on(3), on(4), on(5), on(6), on(7), on(8), on(9), on(10),
                     on(11), on(12), on(13), on(14), on(15), on(16), on(17), on(18), on(19));
      for (int i : ready) (void)chans[static_cast<std::size_t>(i)].try_recv();  // drain the rest
    }
    return hits;
  };
  run([&] {
    auto within = [](int hits, int rounds, int k) {
      const double mean = static_cast<double>(rounds) / k;
      const double sd = std::sqrt(rounds * (1.0 / k) * (1 - 1.0 / k));
      return std::abs(hits - mean) < 7 * sd;
    };
    auto five = counts(5, {0, 1, 2, 3, 4}, 10000);
    for (int i = 0; i < 5; i++)
      EXPECT_PRED3(within, five[static_cast<std::size_t>(i)], 10000, 5) << i;
    auto twenty =
        counts(20, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, 20000);
    for (int i = 0; i < 20; i++)
      EXPECT_PRED3(within, twenty[static_cast<std::size_t>(i)], 20000, 20) << i;
    auto some = counts(6, {0, 2, 5}, 9000);
    for (int i : {0, 2, 5}) EXPECT_PRED3(within, some[static_cast<std::size_t>(i)], 9000, 3) << i;
    for (int i : {1, 3, 4}) EXPECT_EQ(some[static_cast<std::size_t>(i)], 0) << i;
  });
}

TEST_P(SelectTest, FairAmongReadyCasesOfFew) {
  // Up to four cases the poll order is a permutation drawn whole from a table: uniform
  // among the ready cases with 3 and 4 cases all ready, and with 3 ready of 4 (a table
  // of rotations only would favour case 3, after the unready one). Each count is within
  // 7 standard deviations of its mean.
  run([&] {
    auto within = [](int hits, int rounds, int k) {
      const double mean = static_cast<double>(rounds) / k;
      const double sd = std::sqrt(rounds * (1.0 / k) * (1 - 1.0 / k));
      return std::abs(hits - mean) < 7 * sd;
    };
    weft::Chan<int> c[4] = {weft::Chan<int>(1), weft::Chan<int>(1), weft::Chan<int>(1),
                            weft::Chan<int>(1)};
    int hits[4] = {0, 0, 0, 0};
    auto on = [&](int i) {
      return weft::on_recv(c[i], [&hits, i](std::optional<int>) { hits[i]++; });
    };
    auto round = [&](std::initializer_list<int> ready, int n) {
      for (int i : ready) c[i].try_send(i);
      if (n == 3)
        weft::select(on(0), on(1), on(2));
      else
        weft::select(on(0), on(1), on(2), on(3));
      for (int i : ready) (void)c[i].try_recv();  // drain the rest
    };
    constexpr int kRounds = 12000;
    for (int r = 0; r < kRounds; r++) round({0, 1, 2}, 3);
    for (int i = 0; i < 3; i++) EXPECT_PRED3(within, hits[i], kRounds, 3) << "3 of 3, case " << i;
    std::fill(hits, hits + 4, 0);
    for (int r = 0; r < kRounds; r++) round({0, 1, 2, 3}, 4);
    for (int i = 0; i < 4; i++) EXPECT_PRED3(within, hits[i], kRounds, 4) << "4 of 4, case " << i;
    std::fill(hits, hits + 4, 0);
    for (int r = 0; r < kRounds; r++) round({0, 1, 3}, 4);
    for (int i : {0, 1, 3}) EXPECT_PRED3(within, hits[i], kRounds, 3) << "3 of 4, case " << i;
    EXPECT_EQ(hits[2], 0);
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
