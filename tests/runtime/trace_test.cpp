// trace_test.cpp: the scheduler event trace and WEFT_SCHEDTRACE (runtime/src/trace.cpp,
// the hooks in proc.cpp, sysmon.cpp). Only events a workload forces are asserted: which
// M runs what, and whether any steal happens, depends on timing.
#include "weft/trace.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>
#include <vector>

#include "weft/chan.h"
#include "weft/introspect.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;
using weft::trace::EventKind;

class TraceTest : public WeftTest {};
WEFT_INSTANTIATE(TraceTest);

// wait_until_waiting() yields until fiber `id` is parked with `reason` (no deadline: a
// hang is a failure the test timeout reports).
void wait_until_waiting(weft::FiberId id, weft::WaitReason reason) {
  for (;;) {
    for (const auto& f : weft::fibers())
      if (f.id == id && f.state == weft::FiberState::waiting && f.wait_reason == reason) return;
    weft::sleep_for(100us);
  }
}

// wait_gone() yields until none of `ids` is a live fiber: a fiber that signalled a
// WaitGroup is still running until it returns, and the fixture counts it as leaked.
void wait_gone(const std::vector<weft::FiberId>& ids) {
  for (;;) {
    bool alive = false;
    for (const auto& f : weft::fibers())
      alive |= std::find(ids.begin(), ids.end(), f.id) != ids.end();
    if (!alive) return;
    weft::sleep_for(100us);
  }
}

// index_of() is the index of the first event at or after `from` matching `pred`, or -1.
template <class Pred>
long index_of(const weft::trace::Trace& t, long from, Pred pred) {
  if (from < 0) return -1;
  for (std::size_t i = static_cast<std::size_t>(from); i < t.events.size(); i++)
    if (pred(t.events[i])) return static_cast<long>(i);
  return -1;
}

std::string name_of(const weft::trace::Trace& t, weft::FiberId id) {
  for (const auto& [fid, name] : t.fiber_names)
    if (fid == id) return name;
  return "";
}

TEST_P(TraceTest, NamedFiberParksOnChannelReceiveAndIsWoken) {
  run([&] {
    weft::Chan<int> ch(0), ack(0), release(0);
    ASSERT_TRUE(weft::trace::start());
    EXPECT_TRUE(weft::trace::running());
    const weft::FiberId me = weft::this_fiber_id();
    weft::WaitGroup done;
    done.add(1);
    const weft::FiberId id = weft::go("trace-receiver", [ch, ack, release, done] {
      int v = ch.recv().value_or(-1);
      ack.send(v);
      release.recv();
      done.done();
    });
    wait_until_waiting(id, weft::WaitReason::chan_receive);
    ch.send(7);
    EXPECT_EQ(ack.recv().value_or(-1), 7);
    weft::trace::Trace t = weft::trace::stop();  // the receiver is alive: its name is known
    EXPECT_FALSE(weft::trace::running());
    release.send(0);
    done.wait();
    wait_gone({id});

    ASSERT_FALSE(t.events.empty());
    EXPECT_LE(t.start_ns, t.events.front().ts_ns);
    EXPECT_LE(t.events.back().ts_ns, t.end_ns);
    EXPECT_TRUE(std::is_sorted(t.events.begin(), t.events.end(),
                               [](const auto& a, const auto& b) { return a.ts_ns < b.ts_ns; }));
    auto of = [id](EventKind k) {
      return [id, k](const weft::trace::Event& e) { return e.kind == k && e.fiber == id; };
    };
    const long create = index_of(t, 0, of(EventKind::fiber_create));
    const long run1 = index_of(t, create, of(EventKind::fiber_run));
    const long park = index_of(t, run1, [id](const weft::trace::Event& e) {
      return e.kind == EventKind::fiber_park && e.fiber == id;
    });
    const long unpark = index_of(t, park, of(EventKind::fiber_unpark));
    const long run2 = index_of(t, unpark, of(EventKind::fiber_run));
    ASSERT_GE(create, 0);
    ASSERT_GE(run1, 0) << "no fiber_run after fiber_create";
    ASSERT_GE(park, 0) << "no fiber_park after its first run";
    ASSERT_GE(unpark, 0) << "no fiber_unpark after the park";
    ASSERT_GE(run2, 0) << "no fiber_run after the unpark";
    EXPECT_EQ(t.events[create].arg, me);  // created by main
    EXPECT_EQ(t.events[park].reason, weft::WaitReason::chan_receive);
    EXPECT_GE(t.events[run1].m, 0);
    EXPECT_GE(t.events[run1].p, 0);
    EXPECT_LT(t.events[run1].p, procs());
    EXPECT_EQ(name_of(t, id), "trace-receiver");
    // Every fiber that ran on an M was run with a P.
    for (const auto& e : t.events)
      if (e.kind == EventKind::fiber_run) {
        EXPECT_GE(e.p, 0);
      }
  });
}

TEST_P(TraceTest, FiberThatEndsDuringTheTraceKeepsItsName) {
  run([&] {
    ASSERT_TRUE(weft::trace::start());
    weft::WaitGroup done;
    done.add(1);
    const weft::FiberId id = weft::go("short-lived", [done] { done.done(); });
    done.wait();
    wait_gone({id});  // its fiber_stop is recorded by then
    weft::trace::Trace t = weft::trace::stop();
    EXPECT_EQ(name_of(t, id), "short-lived");
    const long stop = index_of(t, 0, [id](const weft::trace::Event& e) {
      return e.kind == EventKind::fiber_stop && e.fiber == id;
    });
    ASSERT_GE(stop, 0);
    EXPECT_EQ(t.events[stop].arg, 2u);  // exit
  });
}

TEST_P(TraceTest, ReadyFromAForeignThreadGoesToTheSharedRing) {
  run([&] {
    weft::Chan<int> ch(0);
    ASSERT_TRUE(weft::trace::start());
    weft::WaitGroup done;
    done.add(1);
    const weft::FiberId id = weft::go([ch, done] {
      ch.recv();
      done.done();
    });
    wait_until_waiting(id, weft::WaitReason::chan_receive);
    std::thread sender([ch] { ch.send(1); });
    weft::blocking([&] { sender.join(); });
    done.wait();
    wait_gone({id});
    weft::trace::Trace t = weft::trace::stop();
    const long unpark = index_of(t, 0, [id](const weft::trace::Event& e) {
      return e.kind == EventKind::fiber_unpark && e.fiber == id;
    });
    ASSERT_GE(unpark, 0);
    EXPECT_EQ(t.events[unpark].m, -1);  // not an M
    EXPECT_EQ(t.events[unpark].p, -1);
  });
}

TEST_P(TraceTest, BlockingCallIsBracketed) {
  run([&] {
    ASSERT_TRUE(weft::trace::start());
    const weft::FiberId me = weft::this_fiber_id();
    int r = weft::blocking([] { return 42; });
    weft::trace::Trace t = weft::trace::stop();
    EXPECT_EQ(r, 42);
    auto mine = [me](EventKind k) {
      return [me, k](const weft::trace::Event& e) { return e.kind == k && e.fiber == me; };
    };
    const long enter = index_of(t, 0, mine(EventKind::blocking_enter));
    ASSERT_GE(enter, 0);
    EXPECT_GE(t.events[enter].p, 0);  // entered holding its P
    EXPECT_GE(index_of(t, enter, mine(EventKind::blocking_exit)), 0);
  });
}

TEST_P(TraceTest, FullRingsOverwriteTheOldestAndCountThem) {
  run([&] {
    constexpr std::size_t kCap = 8;
    ASSERT_TRUE(weft::trace::start(kCap));
    for (int i = 0; i < 200; i++) weft::yield();  // a fiber_stop and a fiber_run each
    weft::trace::Trace t = weft::trace::stop();
    EXPECT_GT(t.lost, 0u);
    EXPECT_GE(t.lost + t.events.size(), 400u);
    EXPECT_FALSE(t.events.empty());
    std::map<int, std::size_t> per_m;  // per ring: one per M, one shared (m < 0)
    for (const auto& e : t.events) per_m[e.m < 0 ? -1 : e.m]++;
    for (const auto& [m, n] : per_m) EXPECT_LE(n, kCap) << "M " << m;
    // What is kept is the newest: the last event of main's M is main's last run.
    const weft::FiberId me = weft::this_fiber_id();
    EXPECT_GE(index_of(t, 0,
                       [me](const weft::trace::Event& e) {
                         return e.kind == EventKind::fiber_run && e.fiber == me;
                       }),
              0);
  });
}

TEST_P(TraceTest, StartAndStopWhileFibersRunAreSafe) {
  // Writers on every M race stop(): TSan checks the in-progress protocol.
  run([&] {
    std::atomic<bool> quit{false};
    const int n = std::min(procs(), 8) + 1;
    for (int i = 0; i < n; i++) {
      weft::Chan<int> ping(0), pong(0);
      go([ping, pong] {
        for (int v : ping) pong.send(v);
      });
      go([ping, pong, &quit] {
        for (int k = 0; !quit.load(std::memory_order_relaxed); k++) {
          ping.send(k);
          pong.recv();
          // A P runs its timers only when its run queue is empty, and a ping-pong pair
          // on runnext never lets it be: pause so that main's sleep_for can end.
          if (k % 64 == 63) weft::sleep_for(50us);
        }
        ping.close();
      });
    }
    std::uint64_t total = 0;
    for (int round = 0; round < 20; round++) {
      ASSERT_TRUE(weft::trace::start(round % 2 ? 64 : 4096));
      weft::sleep_for(1ms);
      weft::trace::Trace t = weft::trace::stop();
      total += t.events.size();
      EXPECT_TRUE(std::is_sorted(t.events.begin(), t.events.end(),
                                 [](const auto& a, const auto& b) { return a.ts_ns < b.ts_ns; }));
    }
    quit.store(true);
    join();
    EXPECT_GT(total, 0u);
  });
}

TEST_P(TraceTest, SpawnBurstIsTraced) {
  // Steals may or may not happen; every created fiber must show up created and run.
  run([&] {
    ASSERT_TRUE(weft::trace::start());
    weft::WaitGroup wg;
    constexpr int kFibers = 200;
    wg.add(kFibers);
    std::vector<weft::FiberId> ids;
    for (int i = 0; i < kFibers; i++) ids.push_back(weft::go([wg] { wg.done(); }));
    wg.wait();
    wait_gone(ids);
    weft::trace::Trace t = weft::trace::stop();
    EXPECT_EQ(t.lost, 0u);
    std::map<weft::FiberId, int> created, ran;
    for (const auto& e : t.events) {
      if (e.kind == EventKind::fiber_create) created[e.fiber]++;
      if (e.kind == EventKind::fiber_run) ran[e.fiber]++;
      if (e.kind == EventKind::steal) {
        EXPECT_GE(e.arg, 1u);
        EXPECT_NE(static_cast<int>(e.arg2), e.p);  // not from itself
      }
    }
    for (weft::FiberId id : ids) {
      EXPECT_EQ(created[id], 1) << id;
      EXPECT_GE(ran[id], 1) << id;
    }
  });
}

TEST(Trace, StartTwiceFailsAndStopWithoutTraceIsEmpty) {
  weft::trace::Trace none = weft::trace::stop();
  EXPECT_TRUE(none.events.empty());
  EXPECT_EQ(none.lost, 0u);
  EXPECT_EQ(none.start_ns, 0);
  EXPECT_TRUE(none.fiber_names.empty());
  EXPECT_FALSE(weft::trace::running());

  ASSERT_TRUE(weft::trace::start());
  EXPECT_FALSE(weft::trace::start());
  EXPECT_TRUE(weft::trace::running());
  weft::trace::Trace t = weft::trace::stop();
  EXPECT_FALSE(weft::trace::running());
  EXPECT_GT(t.start_ns, 0);
  EXPECT_GE(t.end_ns, t.start_ns);
  EXPECT_TRUE(weft::trace::stop().events.empty());
  // And again: a new trace after a stopped one.
  ASSERT_TRUE(weft::trace::start(16));
  EXPECT_TRUE(weft::trace::stop().events.empty());  // nothing ran
}

TEST(Trace, EventKindNames) {
  EXPECT_STREQ(weft::trace::to_string(EventKind::fiber_park), "fiber_park");
  EXPECT_STREQ(weft::trace::to_string(EventKind::stack_free), "stack_free");
}

TEST(TraceDeath, SchedtracePrintsSummaryLines) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The runtime is idle while main sleeps 10 intervals: sysmon's deep sleep must still
  // end for each line.
  EXPECT_EXIT(
      {
        setenv("WEFT_SCHEDTRACE", "10", 1);
        weft::Options opts;
        opts.procs = 2;
        weft::run([] { weft::sleep_for(100ms); }, opts);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0),
      "SCHED [0-9]+ms: procs=2 idleprocs=[0-9]+ threads=[0-9]+ spinning=[0-9]+ globrunq=[0-9]+ "
      "runq=\\[[0-9]+ [0-9]+\\] fibers=[0-9]+");
}

}  // namespace
