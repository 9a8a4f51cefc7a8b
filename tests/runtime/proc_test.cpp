// proc_test.cpp: the scheduler (runtime/src/proc.cpp, sysmon.cpp).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_hooks.h"
#include "weft/chan.h"
#include "weft/introspect.h"
#include "weft/mutex.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

long gettid_now() { return syscall(SYS_gettid); }

// Busy-waits (yielding) until pred() or the bound passes; returns pred().
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds bound = 10s) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    weft::yield();
  }
  return true;
}

class ProcTest : public WeftTest {};
WEFT_INSTANTIATE(ProcTest);

TEST_P(ProcTest, MainRunsAndReturns) {
  bool ran = false;
  run([&] {
    ran = true;
    EXPECT_TRUE(weft::in_fiber());
    EXPECT_NE(weft::this_fiber_id(), 0u);
    EXPECT_EQ(weft::procs(), procs());
  });
  EXPECT_TRUE(ran);
  EXPECT_FALSE(weft::in_fiber());
}

TEST_P(ProcTest, ThousandsOfFibersWithRandomYields) {
  constexpr int kFibers = 5000;
  std::atomic<long> sum{0};
  run([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < kFibers; i++) {
      wg.add(1);
      weft::go([wg, i, &sum] {
        std::minstd_rand rng(static_cast<unsigned>(i));
        int yields = static_cast<int>(rng() % 8);
        for (int k = 0; k < yields; k++) weft::yield();
        sum += i;
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(sum.load(), static_cast<long>(kFibers) * (kFibers - 1) / 2);
}

TEST_P(ProcTest, FiberIdsAreUnique) {
  std::vector<weft::FiberId> ids(1000);
  run([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < 1000; i++) {
      wg.add(1);
      weft::go([wg, i, &ids] {
        ids[static_cast<std::size_t>(i)] = weft::this_fiber_id();
        wg.done();
      });
    }
    wg.wait();
  });
  std::set<weft::FiberId> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  EXPECT_EQ(unique.count(0), 0u);
}

TEST_P(ProcTest, MoveOnlyCapturesAndNestedSpawns) {
  std::atomic<int> total{0};
  run([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      auto owned = std::make_unique<int>(i);
      wg.add(1);
      weft::go([wg, owned = std::move(owned), &total] {
        wg.add(1);
        weft::go([wg, v = *owned, &total] {
          total += v;
          wg.done();
        });
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(total.load(), 99 * 100 / 2);
}

TEST_P(ProcTest, GoFromAPlainThread) {
  std::atomic<bool> ran{false};
  run([&] {
    weft::WaitGroup wg;
    wg.add(1);
    std::thread t([&] {
      weft::go([wg, &ran] {
        ran = true;
        wg.done();
      });
    });
    wg.wait();
    t.join();
  });
  EXPECT_TRUE(ran);
}

TEST_P(ProcTest, StealingHappensWhenOneProcIsBusy) {
  if (procs() < 2) GTEST_SKIP() << "needs two Ps";
  std::uint64_t steals = 0;
  run([&] {
    // Queue many short fibers on this P; idle Ps are woken and must steal them.
    bool stolen = eventually([&] {
      weft::WaitGroup wg;
      for (int i = 0; i < 2000; i++) {
        wg.add(1);
        weft::go([wg] {
          volatile int x = 0;
          for (int k = 0; k < 2000; k++) x = x + k;
          wg.done();
        });
      }
      wg.wait();
      return weft::stats().steals > 0;
    });
    EXPECT_TRUE(stolen);
    steals = weft::stats().steals;
  });
  EXPECT_GT(steals, 0u);
}

TEST_P(ProcTest, BlockingCallHandsOffItsProc) {
  // Every P but main's is first parked in a blocking call; then main queues `other` and
  // blocks too. From then on only a P retaken by sysmon can run `other`.
  std::atomic<bool> other_ran{false};
  std::atomic<int> blocked{0};
  bool ran_during_call = false;
  std::uint64_t handoffs = 0;
  run([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < procs() - 1; i++) {
      wg.add(1);
      weft::go([wg, &other_ran, &blocked] {
        weft::blocking([&] {
          blocked++;
          for (int k = 0; k < 1000 && !other_ran; k++) std::this_thread::sleep_for(5ms);
        });
        wg.done();
      });
    }
    while (blocked < procs() - 1) weft::yield();
    std::atomic<bool> in_call{false};
    // `other` may run before main blocks (main may be preempted in go()): it then
    // yields until main is inside its call, when only a retaken P can run it again.
    weft::go([&] {
      while (!in_call) weft::yield();
      other_ran = true;
    });
    ran_during_call = weft::blocking([&] {
      in_call = true;
      for (int k = 0; k < 1000 && !other_ran; k++) std::this_thread::sleep_for(5ms);
      return other_ran.load();
    });
    wg.wait();
    handoffs = weft::stats().handoffs;
  });
  EXPECT_TRUE(ran_during_call);
  EXPECT_GT(handoffs, 0u);
}

TEST_P(ProcTest, BlockingReturnsValuesAndPropagatesExceptions) {
  run([&] {
    EXPECT_EQ(weft::blocking([] { return 42; }), 42);
    EXPECT_THROW(weft::blocking([]() -> int { throw std::runtime_error("disk on fire"); }),
                 std::runtime_error);
    std::string s = weft::blocking([] { return std::string(1000, 'x'); });
    EXPECT_EQ(s.size(), 1000u);
  });
}

// The TLS hazard: a fiber that resumes on another thread must see that thread's state.
// The migration is forced: the fiber blocks (its P is handed to another M, which
// keeps it busy), so when the call returns there is no P for it and it must resume on
// the other M.
TEST(ProcMigration, MigratingFiberReadsCurrentThreadState) {
  long tid_before = 0, tid_after = 0, hook_after = 0, os_after = 0;
  weft::Options opts;
  opts.procs = 1;
  weft::run(
      [&] {
        std::atomic<bool> other_running{false}, returned{false};
        weft::go([&] {
          other_running = true;
          // Keep the P until the blocked fiber is queued; yield so it can run here.
          while (!returned) weft::yield();
        });
        tid_before = weft::detail::TEST_m_tid();
        EXPECT_EQ(tid_before, gettid_now());
        weft::blocking([&] {
          while (!other_running) std::this_thread::sleep_for(1ms);
          std::this_thread::sleep_for(20ms);  // the other M is now spinning in yield()
        });
        hook_after = weft::detail::TEST_m_tid();
        os_after = gettid_now();
        tid_after = os_after;
        returned = true;
      },
      opts);
  EXPECT_EQ(hook_after, os_after) << "per-thread state read through a stale TLS address";
  EXPECT_NE(tid_after, tid_before) << "the fiber was expected to migrate";
}

TEST_P(ProcTest, LongRunningFiberIsAskedToYield) {
  bool other_ran_early = false;
  std::uint64_t requests = 0, honoured = 0;
  run([&] {
    std::atomic<bool> other{false};
    go([&] { other = true; });
    // A CPU-bound loop that never blocks: only a preemption request lets `other` run
    // when there is one P.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!other && std::chrono::steady_clock::now() < deadline) weft::maybe_yield();
    other_ran_early = other;
    auto st = weft::stats();
    requests = st.preempt_requests;
    honoured = st.preemptions;
    join();
  });
  EXPECT_TRUE(other_ran_early);
  if (procs() == 1) {
    EXPECT_GT(requests, 0u);
    EXPECT_GT(honoured, 0u);
  }
}

// run_on_one_p() runs `body` as main of a runtime with a single P.
void run_on_one_p(const std::function<void()>& body) {
  weft::Options opts;
  opts.procs = 1;
  weft::run([&] { body(); }, opts);
}

// Two fibers that switch straight to each other (switch_away's direct path, never
// through g0's schedule()) must not starve their P's timers. With one P nobody else
// would run them: main's sleep would only end when the bounded loop gives up.
TEST(ProcFairness, YieldingPairLetsTimersFire) {
  constexpr long kBound = 5'000'000;  // far more yields than 5 ms takes
  std::atomic<bool> woke{false};
  long rounds = 0;
  run_on_one_p([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < 2; i++) {
      wg.add(1);
      weft::go([wg, &woke, &rounds, i] {
        for (long n = 0; n < kBound && !woke.load(); n++) {
          if (i == 0) rounds = n;
          weft::yield();
        }
        wg.done();
      });
    }
    weft::sleep_for(5ms);
    woke = true;
    wg.wait();
  });
  EXPECT_LT(rounds, kBound - 1) << "the sleeper only woke when the yielding pair gave up";
}

// The same with a pair bouncing over unbuffered channels: each hands the other runnext,
// inheriting the time slice, so schedule() never runs between them.
TEST(ProcFairness, ChannelPingPongLetsTimersFire) {
  constexpr long kBound = 3'000'000;
  std::atomic<bool> woke{false};
  long rounds = 0;
  run_on_one_p([&] {
    weft::Chan<long> ping(0), pong(0);
    weft::WaitGroup wg;
    wg.add(2);
    weft::go([wg, ping, pong, &woke, &rounds] {
      long n = 0;
      for (; n < kBound && !woke.load(); n++) {
        ping.send(n);
        pong.recv();
      }
      rounds = n;
      ping.send(-1);
      wg.done();
    });
    weft::go([wg, ping, pong] {
      for (;;) {
        auto v = ping.recv();
        if (!v || *v < 0) break;
        pong.send(*v);
      }
      wg.done();
    });
    weft::sleep_for(5ms);
    woke = true;
    wg.wait();
  });
  EXPECT_LT(rounds, kBound) << "the sleeper only woke when the ping-pong gave up";
}

// ready() wakes no thread for a fiber that lands alone in the P's runnext slot (the
// readier usually parks next). When the readier computes on instead, without a runtime
// call, sysmon must wake an M to steal the readied fiber onto the idle P; else it would
// wait for the loop, which gives up after a bound and fails the test.
TEST(ProcFairness, AFiberReadiedByABusyFiberRunsOnTheIdleP) {
  std::atomic<bool> ran{false};
  bool ran_while_busy = false;
  weft::Options opts;
  opts.procs = 2;
  weft::run(
      [&] {
        weft::Chan<int> ch(0);
        weft::WaitGroup wg;
        wg.add(1);
        weft::go([ch, wg, &ran]() mutable {
          ch.recv();
          ran = true;
          wg.done();
        });
        auto receiver_waits = [] {
          for (const weft::FiberInfo& f : weft::fibers())
            if (f.wait_reason == weft::WaitReason::chan_receive) return true;
          return false;
        };
        while (!receiver_waits()) weft::sleep_for(1ms);
        // An M still spinning from main's wake-up would steal the receiver by itself.
        while (weft::stats().spinning != 0) {
        }
        ch.send(1);  // hands the value over: the receiver goes to runnext
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (!ran.load() && std::chrono::steady_clock::now() < give_up) {
        }
        ran_while_busy = ran.load();
        wg.wait();
      },
      opts);
  EXPECT_TRUE(ran_while_busy) << "the readied fiber waited for the busy one to park";
}

// A hand-off's partner that another ready() displaced from runnext into the ring is
// left to its P for a while (a thief takes the Gs behind it only later); any other
// queued G is taken at once.
TEST(ProcSteal, AHandOffsDisplacedPartnerIsLeftToItsPForAWhile) {
  const std::int64_t hot = weft::detail::TEST_steal_hot_ns();
  EXPECT_FALSE(weft::detail::TEST_steal_hot(0)) << "just displaced";
  EXPECT_FALSE(weft::detail::TEST_steal_hot(hot / 2));
  EXPECT_TRUE(weft::detail::TEST_steal_hot(2 * hot)) << "waited long enough";
  EXPECT_TRUE(weft::detail::TEST_steal_hot(-1)) << "queued some other way";
}

// An idle M that finds only hot Gs queued sleeps until the first of them cools (and
// ready() wakes no thief for one) rather than spin on the busy P's queue: hot_until()
// tells when, and nothing once it has cooled.
TEST(ProcSteal, AnIdleMKnowsWhenAHotPartnerCools) {
  const std::int64_t hot = weft::detail::TEST_steal_hot_ns();
  const std::int64_t left = weft::detail::TEST_hot_left(hot / 4);
  EXPECT_GT(left, 0);
  EXPECT_LE(left, hot - hot / 4) << "counted from when it was displaced";
  EXPECT_EQ(weft::detail::TEST_hot_left(2 * hot), 0) << "cooled: stealable now";
}

// ...but not stranded: a busy fiber that readies two receivers (the first displaced into
// the ring by the second) and then runs without parking still has the first run on the
// idle P, once it has stopped being hot.
TEST(ProcSteal, AHotPartnerOfABusyFiberStillRunsOnTheIdleP) {
  std::atomic<int> ran{0};
  bool ran_while_busy = false;
  weft::Options opts;
  opts.procs = 2;
  weft::run(
      [&] {
        weft::Chan<int> a(0), b(0);
        weft::WaitGroup wg;
        for (auto* ch : {&a, &b}) {
          wg.add(1);
          weft::go([ch = *ch, wg, &ran]() mutable {
            ch.recv();
            ran.fetch_add(1);
            wg.done();
          });
        }
        auto receivers_wait = [] {
          int n = 0;
          for (const weft::FiberInfo& f : weft::fibers())
            n += f.wait_reason == weft::WaitReason::chan_receive;
          return n == 2;
        };
        while (!receivers_wait()) weft::sleep_for(1ms);
        a.send(1);  // a's receiver to runnext
        b.send(2);  // b's receiver to runnext, a's to the ring: hot
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (ran.load() == 0 && std::chrono::steady_clock::now() < give_up) {
        }
        ran_while_busy = ran.load() > 0;
        wg.wait();
      },
      opts);
  EXPECT_TRUE(ran_while_busy) << "the displaced receiver waited for the busy fiber to park";
}

TEST_P(ProcTest, ExceptionsCaughtInsideFibersSurviveSwitches) {
  std::atomic<int> ok{0};
  run([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < 200; i++) {
      wg.add(1);
      weft::go([wg, i, &ok] {
        try {
          throw std::runtime_error("fiber " + std::to_string(i));
        } catch (const std::runtime_error& e) {
          // Switch (and maybe migrate) while inside the catch block.
          for (int k = 0; k < 5; k++) weft::yield();
          if (std::string(e.what()) == "fiber " + std::to_string(i) &&
              std::current_exception() != nullptr && std::uncaught_exceptions() == 0)
            ok++;
        }
        if (std::current_exception() == nullptr) ok++;
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(ok.load(), 400);
}

TEST(ProcDeath, UncaughtExceptionEndsTheProcessNamingTheFiber) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        weft::run([] {
          weft::go("thrower", [] { throw std::runtime_error("boom"); });
          weft::sleep_for(std::chrono::seconds(5));
        });
      },
      ::testing::ExitedWithCode(2),
      "panic: uncaught exception in fiber: boom(.|\n)*fiber [0-9]+ "
      "\"thrower\"(.|\n)*proc_test.cpp");
}

TEST(ProcIdle, IdleRuntimeMakesNoWakeups) {
  // While every fiber sleeps, no M and not sysmon may wake up until the timer is due.
  std::uint64_t before = 0, after = 0;
  double cpu_ms = -1;
  weft::Options opts;
  opts.procs = 4;
  weft::run(
      [&] {
        std::thread sampler([&] {
          auto counters = [] {
            auto st = weft::stats();
            return st.wakeups + st.parks + st.sysmon_ticks + st.switches + st.timer_fires;
          };
          std::this_thread::sleep_for(150ms);  // let the runtime settle
          struct rusage r0, r1;
          getrusage(RUSAGE_SELF, &r0);
          before = counters();
          std::this_thread::sleep_for(300ms);
          after = counters();
          getrusage(RUSAGE_SELF, &r1);
          auto us = [](const struct rusage& r) {
            return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec +
                   r.ru_stime.tv_usec;
          };
          cpu_ms = (us(r1) - us(r0)) / 1000.0;
        });
        weft::sleep_for(600ms);
        weft::blocking([&] { sampler.join(); });
      },
      opts);
  EXPECT_EQ(after, before) << "the idle runtime woke up";
  RecordProperty("idle_cpu_ms_over_300ms", std::to_string(cpu_ms));
}

TEST(RunqRing, EveryEntryIsTakenOnceWithFrontPushesAndThieves) {
  // The ring's owner pushes at both ends and pops while two threads steal half-batches
  // from the head: nothing lost, nothing taken twice (the tagged head guards against a
  // pop then a push_front putting the head back where a slow thief read it).
  EXPECT_EQ(weft::detail::TEST_runq_race(1'000'000, 2), 0u);
}

TEST(GlobalRunq, EveryEntryIsTakenOnceByBatchingTakers) {
  // A thread outside the runtime puts while two takers take batches: nothing lost, nothing
  // taken twice. Under TSan this also exercises the queue's block reuse, which needs the
  // runtime's suppression (see proc.cpp) to run clean.
  EXPECT_EQ(weft::detail::TEST_globrunq_race(1'000'000, 2), 0u);
}

TEST(SpinLock, ExcludesWhenContended) {
  // Four threads find the lock held and take the contended path (spin, then
  // sched_yield), which must still acquire before it returns; then they race on. Not
  // one increment may be lost.
  const auto r = weft::detail::TEST_spin_race(4, 200'000);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_GE(r.contended, 4u);
}

TEST(ProcSpawn, ASpawningLoopRunsItsChildrenAsItGoes) {
  // On one P, a loop that spawns 20,000 fibers which return at once yields whenever half
  // the local queue is its children: they run, and their Gs and stacks go back to this
  // P's free list for the next go() to reuse -- a few hundred stacks in all, not one per
  // fiber (they used to spill to the global queue, all alive until the loop ended).
  static constexpr int kFibers = 20000;
  std::uint64_t fresh = 0;
  int ran = 0;
  weft::Options opts;
  opts.procs = 1;
  weft::run(
      [&] {
        const std::uint64_t before = weft::stats().stacks_allocated;
        weft::WaitGroup wg;
        wg.add(kFibers);
        for (int i = 0; i < kFibers; i++)
          weft::go([&ran, wg]() mutable {
            ran++;  // one P: no race
            wg.done();
          });
        wg.wait();
        fresh = weft::stats().stacks_allocated - before;
      },
      opts);
  EXPECT_EQ(ran, kFibers);
  EXPECT_LT(fresh, 1000u) << "stacks allocated for " << kFibers << " short-lived fibers";
}

// A binary tree of fibers, each node waiting for its two children; `ran` counts the nodes
// that have run. One P only (no races on the counters).
void fiber_tree(int depth, long& ran) {
  ran++;
  if (depth == 0) return;
  weft::WaitGroup wg;
  wg.add(2);
  for (int i = 0; i < 2; i++)
    weft::go([depth, &ran, wg] {
      fiber_tree(depth - 1, ran);
      wg.done();
    });
  wg.wait();
}

TEST(ProcSpawn, ATreeOfFibersIsWalkedDepthFirst) {
  // go() queues the sibling its child displaces from runnext at the front of the ring,
  // so a tree is walked depth first: the fibers alive at once are the current path and
  // the siblings pending along it, and the 16,383 nodes reuse a few dozen stacks (26).
  // In Go's order (the sibling to the tail) the walk is breadth first: 1,651 stacks.
  // A preemption (a time slice past 10 ms: sanitizers, a loaded machine) sends the
  // running node to the global queue with its subtree unfinished while the P walks on
  // elsewhere, so each one may leave a few more fibers alive: counted, and allowed for.
  static constexpr int kDepth = 13;
  std::uint64_t fresh = 0, preemptions = 0;
  long ran = 0;
  weft::Options opts;
  opts.procs = 1;
  weft::run(
      [&] {
        const weft::SchedStats before = weft::stats();
        fiber_tree(kDepth, ran);
        const weft::SchedStats after = weft::stats();
        fresh = after.stacks_allocated - before.stacks_allocated;
        preemptions = after.preemptions - before.preemptions;
      },
      opts);
  EXPECT_EQ(ran, (1L << (kDepth + 1)) - 1);
  EXPECT_LT(fresh, 200 + 8 * preemptions)
      << "stacks allocated for a tree of " << ran << " fibers, " << preemptions << " preemptions";
  RecordProperty("stacks_allocated", std::to_string(fresh));
  RecordProperty("preemptions", std::to_string(preemptions));
}

TEST(ProcSpawn, AFiberQueuedBeforeASpawnBurstIsNotStarved) {
  // A fiber that yields goes to the ring's tail, behind a tree that grows at the front.
  // After every kFrontRunMax front fibers, the oldest one waiting behind them runs: it
  // had 134 turns while the 16,383 nodes ran, at most 131 nodes apart. Without that rule
  // it had none; in Go's order (no front) up to 5,833 nodes apart. Counted, not timed.
  static constexpr int kDepth = 13;
  static constexpr long kNodes = (1L << (kDepth + 1)) - 1;
  long ran = 0, max_gap = 0, turns_during_tree = 0;
  weft::Options opts;
  opts.procs = 1;
  weft::run(
      [&] {
        weft::WaitGroup wg;
        wg.add(1);
        weft::go([&, wg] {
          for (long last = -1; ran < kNodes;) {
            if (last >= 0) max_gap = std::max(max_gap, ran - last);
            if (ran > 0) turns_during_tree++;
            last = ran;
            weft::yield();
          }
          wg.done();
        });
        weft::yield();  // let it start and go to the tail
        fiber_tree(kDepth, ran);
        wg.wait();
      },
      opts);
  EXPECT_EQ(ran, kNodes);
  EXPECT_GE(turns_during_tree, 3) << "turns of the queued fiber while the tree ran";
  EXPECT_LT(max_gap, 2000) << "tree fibers run between two turns of the queued fiber";
  RecordProperty("turns_during_tree", std::to_string(turns_during_tree));
  RecordProperty("max_fibers_between_turns", std::to_string(max_gap));
}

TEST(ProcIdle, TimerWakeUpsWakeNoOtherThread) {
  // One fiber sleeps again and again on 4 Ps. Each expiry wakes the M that sleeps until
  // the next timer; it finds the fiber and runs it. Nothing else is queued, so no other
  // M has a reason to wake (the M used to wake one on leaving its spinning state, and
  // sysmon one when it saw the timer overdue before that M was back from its sleep).
  // Counted, not timed: the verdict does not depend on the machine's speed.
  static constexpr std::uint64_t kSleeps = 200;
  std::uint64_t wakeups = 0;
  weft::Options opts;
  opts.procs = 4;
  weft::run(
      [&] {
        weft::sleep_for(20ms);  // let the runtime settle
        const std::uint64_t before = weft::stats().wakeups;
        for (std::uint64_t i = 0; i < kSleeps; i++) weft::sleep_for(200us);
        wakeups = weft::stats().wakeups - before;
      },
      opts);
  EXPECT_LT(wakeups, kSleeps / 10) << "threads woken for nothing";
}

}  // namespace
