// timer_test.cpp: sleeping, Timer and Ticker (runtime/src/timer.cpp, time.cpp).
// No test asserts an upper bound on time: only that a wait lasted at least as long
// as asked, and that every wake-up happens.
#include <atomic>
#include <chrono>
#include <random>

#include "weft/introspect.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

class TimerTest : public WeftTest {};
WEFT_INSTANTIATE(TimerTest);

TEST_P(TimerTest, SleepLastsAtLeastTheDuration) {
  run([&] {
    for (auto d : {1ms, 5ms, 20ms}) {
      auto t0 = weft::Clock::now();
      weft::sleep_for(d);
      EXPECT_GE(weft::Clock::now() - t0, d);
    }
    weft::sleep_for(0ms);
    weft::sleep_for(-5ms);
    auto until = weft::Clock::now() + 3ms;
    weft::sleep_until(until);
    EXPECT_GE(weft::Clock::now(), until);
  });
}

TEST_P(TimerTest, ThousandsOfSleepersAllWake) {
  std::atomic<int> woke{0};
  run([&] {
    weft::WaitGroup wg;
    std::minstd_rand rng(7);
    for (int i = 0; i < 3000; i++) {
      auto d = std::chrono::microseconds(rng() % 5000);
      wg.add(1);
      weft::go([wg, d, &woke] {
        auto t0 = weft::Clock::now();
        weft::sleep_for(d);
        if (weft::Clock::now() - t0 >= d) woke++;
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(woke.load(), 3000);
}

TEST_P(TimerTest, TimerFiresOnceAndWaitReturnsTrue) {
  run([&] {
    auto t0 = weft::Clock::now();
    weft::Timer t(5ms);
    EXPECT_TRUE(t.wait());
    EXPECT_GE(weft::Clock::now() - t0, 5ms);
    EXPECT_TRUE(t.wait());  // already fired: returns at once
    EXPECT_FALSE(t.stop());
  });
}

TEST_P(TimerTest, StoppedTimerNeverFires) {
  run([&] {
    weft::Timer t(1h);
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop());
    EXPECT_FALSE(t.wait());
    // reset re-arms a stopped timer.
    EXPECT_FALSE(t.reset(1ms));
    EXPECT_TRUE(t.wait());
  });
}

TEST_P(TimerTest, StopWakesWaiters) {
  run([&] {
    weft::Timer t(1h);
    weft::WaitGroup wg;
    std::atomic<int> false_results{0};
    for (int i = 0; i < 10; i++) {
      wg.add(1);
      weft::go([t, wg, &false_results] {
        if (!t.wait()) false_results++;
        wg.done();
      });
    }
    weft::sleep_for(2ms);
    EXPECT_TRUE(t.stop());
    wg.wait();
    EXPECT_EQ(false_results.load(), 10);
  });
}

TEST_P(TimerTest, AfterFuncRunsInAFiber) {
  run([&] {
    weft::WaitGroup wg;
    wg.add(1);
    weft::FiberId runner = 0;
    auto t = weft::Timer::after_func(2ms, [wg, &runner] {
      runner = weft::this_fiber_id();
      wg.done();
    });
    wg.wait();
    EXPECT_NE(runner, 0u);
    EXPECT_NE(runner, weft::this_fiber_id());
    // The timer's fiber is still on its way out after done(): let it finish, or the
    // fixture's leak check would count it.
    while (weft::fibers().size() > 1) weft::yield();
    auto never = weft::Timer::after_func(1h, [] { ADD_FAILURE() << "stopped timer ran"; });
    EXPECT_TRUE(never.stop());
  });
}

TEST_P(TimerTest, TimersStillArmedWhenTheRuntimeStopsAreFreed) {
  // A timer armed when run() returns never fires; what it holds -- an after_func's
  // function and what that captured, a ticker nobody stopped -- is freed with it, not
  // leaked (it held itself while armed).
  auto sentinel = std::make_shared<int>(7);
  std::weak_ptr<int> watch = sentinel;
  run([&] {
    weft::Timer::after_func(1h, [kept = std::move(sentinel)] { ADD_FAILURE() << "fired"; });
    weft::Ticker ticker(1h);
    weft::Timer timer(1h);
  });
  EXPECT_TRUE(watch.expired());
}

TEST_P(TimerTest, TickerTicksUntilStopped) {
  run([&] {
    // t0 before the ticker: its deadlines count from its creation, so the tenth tick
    // is due 10 ms after that, which may be a hair before 10 ms after a later t0.
    auto t0 = weft::Clock::now();
    weft::Ticker tick(1ms);
    for (int i = 0; i < 10; i++) EXPECT_TRUE(tick.wait());
    EXPECT_GE(weft::Clock::now() - t0, 10ms);
    tick.stop();
    EXPECT_FALSE(tick.wait());
    tick.reset(2ms);
    EXPECT_TRUE(tick.wait());
    tick.stop();
  });
}

TEST_P(TimerTest, TickerDropsTicksForSlowReaders) {
  run([&] {
    weft::Ticker tick(1ms);
    weft::sleep_for(20ms);     // ~20 ticks pass unread
    EXPECT_TRUE(tick.wait());  // one buffered tick, at once
    auto t0 = weft::Clock::now();
    EXPECT_TRUE(tick.wait());  // then a fresh one
    EXPECT_GT(weft::Clock::now() - t0, 0ms);
    tick.stop();
  });
}

TEST_P(TimerTest, DroppedHandleOfArmedTimerIsReclaimed) {
  run([&] {
    { weft::Timer t(1ms); }
    {
      weft::Ticker k(1ms);
      k.stop();
    }
    weft::sleep_for(5ms);  // the orphaned timer fires and frees itself (ASan checks)
  });
}

}  // namespace
