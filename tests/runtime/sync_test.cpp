// sync_test.cpp: Mutex, RWMutex, ConditionVariable, WaitGroup, Once, Semaphore
// (runtime/src/mutex.cpp, rwmutex.cpp, condition_variable.cpp, waitgroup.cpp,
// once.cpp, semaphore.cpp).
#include <atomic>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>

#include "weft/condition_variable.h"
#include "weft/mutex.h"
#include "weft/once.h"
#include "weft/rwmutex.h"
#include "weft/semaphore.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

class SyncTest : public WeftTest {};
WEFT_INSTANTIATE(SyncTest);

TEST_P(SyncTest, MutexExcludes) {
  long counter = 0;
  run([&] {
    weft::Mutex mu;
    weft::WaitGroup wg;
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    for (int i = 0; i < 200; i++) {
      wg.add(1);
      weft::go([&, wg, i] {
        for (int k = 0; k < 100; k++) {
          std::lock_guard lock(mu);
          if (inside.fetch_add(1) != 0) overlap = true;
          long v = counter;
          if ((i + k) % 7 == 0) weft::yield();  // park other lockers meanwhile
          counter = v + 1;
          inside.fetch_sub(1);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_FALSE(overlap);
  });
  EXPECT_EQ(counter, 200 * 100);
}

TEST_P(SyncTest, MutexTryLock) {
  run([&] {
    weft::Mutex mu;
    EXPECT_TRUE(mu.try_lock());
    EXPECT_FALSE(mu.try_lock());
    mu.unlock();
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  });
}

TEST_P(SyncTest, MutexStarvationModeServesTheWaiter) {
  // Hammerers re-lock immediately; without hand-off the latecomer could wait forever.
  bool got = false;
  run([&] {
    weft::Mutex mu;
    std::atomic<bool> stop{false};
    weft::WaitGroup wg;
    for (int i = 0; i < 4; i++) {
      wg.add(1);
      weft::go([&, wg] {
        while (!stop) {
          mu.lock();
          weft::yield();  // hold it across a reschedule
          mu.unlock();
        }
        wg.done();
      });
    }
    weft::sleep_for(2ms);
    mu.lock();
    got = true;
    stop = true;
    mu.unlock();
    wg.wait();
  });
  EXPECT_TRUE(got);
}

TEST_P(SyncTest, MutexUsableFromPlainThreads) {
  long counter = 0;
  run([&] {
    weft::Mutex mu;
    weft::WaitGroup wg;
    for (int i = 0; i < 20; i++) {
      wg.add(1);
      weft::go([&, wg] {
        for (int k = 0; k < 500; k++) {
          std::lock_guard l(mu);
          counter++;
        }
        wg.done();
      });
    }
    std::thread t([&] {
      for (int k = 0; k < 500; k++) {
        std::lock_guard l(mu);
        counter++;
      }
    });
    wg.wait();
    weft::blocking([&] { t.join(); });
  });
  EXPECT_EQ(counter, 21 * 500);
}

TEST_P(SyncTest, RWMutexReadersShareWritersExclude) {
  run([&] {
    weft::RWMutex mu;
    // All readers hold the lock at once: each waits for the others inside.
    constexpr int kReaders = 8;
    std::atomic<int> inside{0};
    weft::WaitGroup wg;
    for (int i = 0; i < kReaders; i++) {
      wg.add(1);
      weft::go([&, wg] {
        {
          std::shared_lock r(mu);
          inside++;
          while (inside < kReaders) weft::yield();
        }
        wg.done();
      });
    }
    wg.wait();
    // Writers exclude everybody.
    long value = 0;
    std::atomic<bool> bad{false};
    weft::WaitGroup wg2;
    for (int i = 0; i < 50; i++) {
      wg2.add(1);
      weft::go([&, wg2, i] {
        if (i % 5 == 0) {
          std::unique_lock w(mu);
          long v = value;
          weft::yield();
          value = v + 1;
        } else {
          std::shared_lock r(mu);
          long v = value;
          weft::yield();
          if (v != value) bad = true;
        }
        wg2.done();
      });
    }
    wg2.wait();
    EXPECT_FALSE(bad);
    EXPECT_EQ(value, 10);
  });
}

TEST_P(SyncTest, RWMutexPrefersWaitingWriters) {
  run([&] {
    weft::RWMutex mu;
    mu.lock_shared();
    std::atomic<bool> writer_done{false};
    go([&] {
      mu.lock();
      mu.unlock();
      writer_done = true;  // after the unlock: main then finds the lock free
    });
    // Wait until the writer is queued: new readers must then be refused.
    while (mu.try_lock_shared()) {
      mu.unlock_shared();
      weft::yield();
    }
    EXPECT_FALSE(writer_done);
    mu.unlock_shared();
    while (!writer_done) weft::yield();
    EXPECT_TRUE(mu.try_lock_shared());
    mu.unlock_shared();
    join();
  });
}

TEST_P(SyncTest, ConditionVariableProducerConsumer) {
  constexpr int kItems = 20000;
  long sum = 0;
  run([&] {
    weft::Mutex mu;
    weft::ConditionVariable not_empty, not_full;
    std::deque<int> q;
    weft::WaitGroup wg;
    for (int p = 0; p < 4; p++) {
      wg.add(1);
      weft::go([&, wg, p] {
        for (int i = p; i < kItems; i += 4) {
          std::unique_lock lock(mu);
          not_full.wait(lock, [&] { return q.size() < 16; });
          q.push_back(i);
          lock.unlock();
          not_empty.notify_one();
        }
        wg.done();
      });
    }
    for (int i = 0; i < kItems; i++) {
      std::unique_lock lock(mu);
      not_empty.wait(lock, [&] { return !q.empty(); });
      sum += q.front();
      q.pop_front();
      lock.unlock();
      not_full.notify_one();
    }
    wg.wait();
  });
  EXPECT_EQ(sum, static_cast<long>(kItems) * (kItems - 1) / 2);
}

TEST_P(SyncTest, ConditionVariableNotifyAllWakesEveryone) {
  run([&] {
    weft::Mutex mu;
    weft::ConditionVariable cv;
    bool go = false;
    std::atomic<int> woke{0};
    weft::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      wg.add(1);
      weft::go([&, wg] {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return go; });
          woke++;
        }
        wg.done();
      });
    }
    weft::sleep_for(1ms);
    {
      std::lock_guard lock(mu);
      go = true;
    }
    cv.notify_all();
    wg.wait();
    EXPECT_EQ(woke.load(), 100);
  });
}

TEST_P(SyncTest, ConditionVariableTimedWaits) {
  run([&] {
    weft::Mutex mu;
    weft::ConditionVariable cv;
    std::unique_lock lock(mu);
    auto t0 = weft::Clock::now();
    EXPECT_EQ(cv.wait_for(lock, 3ms), weft::CvStatus::timeout);
    EXPECT_GE(weft::Clock::now() - t0, 3ms);
    EXPECT_TRUE(lock.owns_lock());
    bool flag = false;
    go([&] {
      std::lock_guard l(mu);
      flag = true;
      cv.notify_one();
    });
    EXPECT_TRUE(cv.wait_for(lock, 1h, [&] { return flag; }));
    EXPECT_FALSE(cv.wait_for(lock, 1ms, [] { return false; }));
    join();
  });
}

TEST_P(SyncTest, ConditionVariableTimeoutRacesNotify) {
  // Timed waits with tiny timeouts racing notifications: no wake-up may be lost and no
  // waiter may return twice (ASan checks the timer/waiter lifetimes).
  run([&] {
    weft::Mutex mu;
    weft::ConditionVariable cv;
    int tokens = 0;
    std::atomic<int> consumed{0};
    weft::WaitGroup wg;
    for (int c = 0; c < 8; c++) {
      wg.add(1);
      weft::go([&, wg] {
        {
          std::unique_lock lock(mu);
          while (consumed < 2000) {
            if (cv.wait_for(lock, std::chrono::microseconds(50), [&] { return tokens > 0; })) {
              tokens--;
              consumed++;
            }
          }
        }  // unlocked before done(): main may destroy mu once every done() ran
        wg.done();
      });
    }
    for (int i = 0; i < 2000; i++) {
      {
        std::lock_guard lock(mu);
        tokens++;
      }
      cv.notify_one();
      if (i % 16 == 0) weft::yield();
    }
    wg.wait();
    EXPECT_EQ(consumed.load(), 2000);
  });
}

TEST_P(SyncTest, WaitGroupSemantics) {
  run([&] {
    weft::WaitGroup wg;
    wg.wait();  // zero: returns at once
    EXPECT_THROW(wg.add(-1), std::logic_error);
    weft::WaitGroup wg2;
    wg2.add(3);
    std::atomic<int> released{0};
    weft::WaitGroup waiters;
    for (int i = 0; i < 10; i++) {
      waiters.add(1);
      weft::go([wg2, waiters, &released] {
        wg2.wait();
        released++;
        waiters.done();
      });
    }
    weft::sleep_for(1ms);
    EXPECT_EQ(released.load(), 0);
    wg2.done();
    wg2.done();
    EXPECT_EQ(wg2.count(), 1);
    wg2.done();
    waiters.wait();
    EXPECT_EQ(released.load(), 10);
  });
}

TEST_P(SyncTest, OnceRunsExactlyOnce) {
  run([&] {
    weft::Once once;
    std::atomic<int> calls{0};
    weft::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      wg.add(1);
      weft::go([&, wg] {
        once.call([&] {
          weft::sleep_for(1ms);  // others park meanwhile
          calls++;
        });
        EXPECT_TRUE(once.done());
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(calls.load(), 1);
    weft::Once retry;
    EXPECT_THROW(retry.call([] { throw std::runtime_error("first try"); }), std::runtime_error);
    EXPECT_FALSE(retry.done());
    retry.call([] {});
    EXPECT_TRUE(retry.done());
  });
}

TEST_P(SyncTest, SemaphoreBoundsConcurrency) {
  run([&] {
    weft::Semaphore sem(3);
    std::atomic<int> inside{0}, max_inside{0};
    weft::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      wg.add(1);
      weft::go([&, wg] {
        sem.acquire();
        int now = ++inside;
        int prev = max_inside.load();
        while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {
        }
        weft::yield();
        inside--;
        sem.release();
        wg.done();
      });
    }
    wg.wait();
    EXPECT_LE(max_inside.load(), 3);
    EXPECT_EQ(sem.available(), 3);
  });
}

TEST_P(SyncTest, SemaphoreLargeRequestIsNotOvertaken) {
  run([&] {
    weft::Semaphore sem(2);
    sem.acquire(2);
    std::atomic<int> order{0}, big_at{-1}, small_at{-1};
    go([&] {
      sem.acquire(2);
      big_at = order++;
      sem.release(2);
    });
    weft::sleep_for(1ms);  // the big request queues first
    go([&] {
      sem.acquire(1);
      small_at = order++;
      sem.release(1);
    });
    weft::sleep_for(1ms);
    sem.release(1);  // one permit: not enough for the head, so nobody goes
    weft::sleep_for(1ms);
    EXPECT_EQ(order.load(), 0);
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(1);
    while (big_at < 0 || small_at < 0) weft::yield();
    EXPECT_EQ(big_at.load(), 0);
    EXPECT_EQ(small_at.load(), 1);
    join();
  });
}

TEST_P(SyncTest, NoLostWakeupsUnderLoad) {
  // Ping-pong through a mutex+condvar pair across all Ps, 10^5 hand-offs in total.
  constexpr int kPairs = 4, kRounds = 25000;
  std::atomic<long> total{0};
  run([&] {
    weft::WaitGroup wg;
    for (int p = 0; p < kPairs; p++) {
      auto mu = std::make_shared<weft::Mutex>();
      auto cv = std::make_shared<weft::ConditionVariable>();
      auto turn = std::make_shared<int>(0);
      for (int side = 0; side < 2; side++) {
        wg.add(1);
        weft::go([=, &total] {
          for (int r = 0; r < kRounds; r++) {
            std::unique_lock lock(*mu);
            cv->wait(lock, [&] { return *turn == side; });
            *turn = 1 - side;
            total++;
            lock.unlock();
            cv->notify_one();
          }
          wg.done();
        });
      }
    }
    wg.wait();
  });
  EXPECT_EQ(total.load(), 2L * kPairs * kRounds);
}

}  // namespace
