// Profiles with stacks and labels (weft/profile.h, weft/labels.h): the CPU profiler,
// fiber labels and their inheritance, block and mutex profiles with the blocked fiber's
// stack, and the fiber-stack snapshot. No timing assertions: the CPU test burns a fixed
// amount of *thread CPU time*, and the blocking tests wait until the fiber is parked.
//
// Each function a test looks for on a stack lives alone in its own ELF section, so the
// linker's __start_<section>/__stop_<section> symbols bound its code exactly.
#include "weft/profile.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "weft/chan.h"
#include "weft/introspect.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

#define IN_SECTION(sec) __attribute__((noinline, section(#sec)))

extern "C" {
extern const char __start_weft_test_burn[], __stop_weft_test_burn[];
extern const char __start_weft_test_block[], __stop_weft_test_block[];
extern const char __start_weft_test_mutex[], __stop_weft_test_mutex[];
extern const char __start_weft_test_park[], __stop_weft_test_park[];
}

namespace {

using namespace std::chrono_literals;

struct Code {
  const char* start;
  const char* stop;
  bool contains(std::uintptr_t pc) const {
    return pc >= reinterpret_cast<std::uintptr_t>(start) &&
           pc < reinterpret_cast<std::uintptr_t>(stop);
  }
  bool any(const std::vector<std::uintptr_t>& pcs) const {
    return std::any_of(pcs.begin(), pcs.end(), [&](std::uintptr_t pc) { return contains(pc); });
  }
};
const Code kBurn{__start_weft_test_burn, __stop_weft_test_burn};
const Code kBlock{__start_weft_test_block, __stop_weft_test_block};
const Code kMutex{__start_weft_test_mutex, __stop_weft_test_mutex};
const Code kPark{__start_weft_test_park, __stop_weft_test_park};

bool has_label(const weft::Labels& labels, const std::string& k, const std::string& v) {
  return std::find(labels.begin(), labels.end(), std::make_pair(k, v)) != labels.end();
}

std::int64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::atomic<std::uint64_t> g_sink{0};

// Burns `cpu_ns` of this thread's CPU time with no runtime call (so it stays on its M).
IN_SECTION(weft_test_burn) std::uint64_t burn_cpu_for_profile(std::int64_t cpu_ns) {
  const std::int64_t end = thread_cpu_ns() + cpu_ns;
  std::uint64_t x = 1;
  do {
    for (int i = 0; i < 200000; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      asm volatile("" : "+r"(x));
    }
  } while (thread_cpu_ns() < end);
  return x;
}

IN_SECTION(weft_test_block) int recv_for_block_profile(weft::Chan<int> ch) {
  auto v = ch.recv();
  return v ? *v + 1 : 0;  // not a tail call: the return address is in here
}

IN_SECTION(weft_test_mutex) void lock_for_mutex_profile(weft::Mutex& mu) {
  mu.lock();
  g_sink.fetch_add(1);
  mu.unlock();
}

IN_SECTION(weft_test_park) int park_for_fiber_stacks(weft::Chan<int> ch) {
  auto v = ch.recv();
  return v ? *v + 1 : 0;
}

// wait_parked() returns once fiber `id` is waiting for `reason`.
void wait_parked(const std::atomic<weft::FiberId>& id, weft::WaitReason reason) {
  for (;;) {
    const weft::FiberId want = id.load();
    if (want != 0)
      for (auto& f : weft::fibers())
        if (f.id == want && f.state == weft::FiberState::waiting && f.wait_reason == reason) return;
    weft::sleep_for(1ms);
  }
}

class ProfileTest : public WeftTest {};

TEST_P(ProfileTest, LabelsAreScopedAndInherited) {
  run([&] {
    EXPECT_TRUE(weft::labels().empty());
    weft::with_labels({{"b", "2"}, {"a", "1"}}, [&] {
      const weft::Labels ab{{"a", "1"}, {"b", "2"}};  // sorted by key
      EXPECT_EQ(weft::labels(), ab);
      weft::with_labels({{"b", "3"}, {"c", "4"}}, [&] {
        EXPECT_EQ(weft::labels(), (weft::Labels{{"a", "1"}, {"b", "3"}, {"c", "4"}}));
        weft::set_labels({{"z", "9"}});  // undone when the enclosing with_labels ends
        EXPECT_EQ(weft::labels(), (weft::Labels{{"z", "9"}}));
      });
      EXPECT_EQ(weft::labels(), ab);
      // A child inherits its creator's labels, keeps them after the creator's scope
      // ends, and passes them on; a blocking call moves nothing but the thread.
      weft::Chan<int> go_on(0);
      weft::Labels child, grandchild, child_later;
      go([&, go_on] {
        child = weft::labels();
        go_on.recv();
        child_later = weft::labels();
        weft::WaitGroup wg;
        wg.add(1);
        weft::go([&, wg] {
          grandchild = weft::labels();
          wg.done();
        });
        wg.wait();
      });
      weft::sleep_for(1ms);
      weft::with_labels({{"a", "other"}}, [&] { go_on.send(1); });
      join();
      EXPECT_EQ(child, ab);
      EXPECT_EQ(child_later, ab);
      EXPECT_EQ(grandchild, ab);
    });
    EXPECT_TRUE(weft::labels().empty());

    // An exception restores the previous labels.
    try {
      weft::with_labels({{"x", "y"}}, [] { throw std::runtime_error("boom"); });
    } catch (const std::runtime_error&) {
    }
    EXPECT_TRUE(weft::labels().empty());

    // A recycled fiber does not keep its previous life's labels.
    for (int i = 0; i < 50; i++) weft::with_labels({{"gen", "1"}}, [&] { go([] {}); });
    join();
    std::atomic<int> labelled{0};
    for (int i = 0; i < 50; i++)
      go([&] {
        if (!weft::labels().empty()) labelled++;
      });
    join();
    EXPECT_EQ(labelled.load(), 0);

    weft::set_labels({{"k", "v"}, {"k", "w"}});  // the last value of a key wins
    EXPECT_EQ(weft::labels(), (weft::Labels{{"k", "w"}}));
    weft::set_labels({});
    EXPECT_TRUE(weft::labels().empty());
  });
}

TEST_P(ProfileTest, ScopedLabelsReplaceAndRestore) {
  run([&] {
    weft::PreparedLabels queue(weft::Labels{{"queue", "orders"}, {"a", "1"}});
    weft::PreparedLabels copy = queue;  // copies share the set
    weft::set_labels({{"connection", "7"}});
    {
      weft::ScopedLabels scope(copy);
      EXPECT_EQ(weft::labels(), (weft::Labels{{"a", "1"}, {"queue", "orders"}}));
      weft::yield();  // still this fiber's after a switch (and maybe a thread change)
      EXPECT_EQ(weft::labels(), (weft::Labels{{"a", "1"}, {"queue", "orders"}}));
      {
        weft::ScopedLabels none{weft::PreparedLabels()};
        EXPECT_TRUE(weft::labels().empty());
      }
      EXPECT_EQ(weft::labels(), (weft::Labels{{"a", "1"}, {"queue", "orders"}}));
    }
    EXPECT_EQ(weft::labels(), (weft::Labels{{"connection", "7"}}));
    weft::set_labels({});
  });
}

TEST(ProfileLabels, OutsideAFiberThereAreNone) {
  bool ran = false;
  weft::with_labels({{"a", "1"}}, [&] { ran = true; });
  EXPECT_TRUE(ran);
  weft::set_labels({{"a", "1"}});
  EXPECT_TRUE(weft::labels().empty());
  weft::PreparedLabels p(weft::Labels{{"a", "1"}});
  weft::ScopedLabels scope(p);  // a no-op off the runtime
  EXPECT_TRUE(weft::labels().empty());
}

TEST_P(ProfileTest, CpuProfileSeesTheBurningFunctionWithItsLabels) {
  run([&] {
    ASSERT_FALSE(weft::profile::cpu_running());
    ASSERT_TRUE(weft::profile::start_cpu(1000));
    EXPECT_TRUE(weft::profile::cpu_running());
    EXPECT_FALSE(weft::profile::start_cpu(100));  // one at a time, as Go
    std::atomic<weft::FiberId> burner{0};
    go([&] {
      burner = weft::this_fiber_id();
      weft::with_labels({{"test", "cpu"}}, [] { g_sink += burn_cpu_for_profile(300'000'000); });
    });
    join();
    auto prof = weft::profile::stop_cpu();
    EXPECT_FALSE(weft::profile::cpu_running());
    EXPECT_EQ(prof.hz, 1000);
    EXPECT_EQ(prof.period_ns, 1000000);
    EXPECT_GT(prof.start_ns, 0);
    EXPECT_GT(prof.duration_ns, 0);
    int in_burn = 0;
    for (auto& s : prof.samples) {
      ASSERT_FALSE(s.pcs.empty());
      EXPECT_GE(s.count, 1);
      EXPECT_EQ(s.value, s.count * prof.period_ns);
      if (!kBurn.any(s.pcs)) continue;
      in_burn += static_cast<int>(s.count);
      EXPECT_TRUE(has_label(s.labels, "test", "cpu"));
      EXPECT_EQ(s.fiber, burner.load());
    }
    EXPECT_GT(in_burn, 0) << prof.samples.size() << " samples, lost " << prof.lost;
    EXPECT_TRUE(weft::profile::stop_cpu().samples.empty());  // none running
  });
}

TEST_P(ProfileTest, CpuProfileSurvivesSwitchesAndNewThreads) {
  // Signals land in context switches, the scheduler, blocking calls (which start Ms)
  // and exits, while stacks are walked concurrently: nothing may crash.
  run([&] {
    ASSERT_TRUE(weft::profile::start_cpu(5000));
    weft::Chan<int> a(0), b(0);
    go([&] {
      for (int i = 0; i < 20000; i++) a.send(i);
      a.close();
    });
    go([&] {
      while (auto v = a.recv()) b.send(*v);
      b.close();
    });
    weft::Chan<int> b2(0);
    go([&] {
      while (auto v = b.recv()) b2.send(*v);
      b2.close();
    });
    for (int i = 0; i < 8; i++)
      go([&] {
        for (int k = 0; k < 20; k++) {
          weft::blocking([] { burn_cpu_for_profile(100'000); });
          go([] { g_sink++; });  // joined too: a helper is still counted while it adds
          weft::yield();
        }
      });
    // Snapshots race with the ping-pong: fibers resume while they are walked.
    std::atomic<bool> done{false};
    std::atomic<int> snapshots{0};
    go([&] {
      do {
        auto stacks = weft::profile::fiber_stacks();
        EXPECT_FALSE(stacks.empty());
        snapshots++;
        weft::yield();
      } while (!done.load());
    });
    weft::Chan<int> c(0);
    go([&] {
      while (auto v = b2.recv()) c.send(*v);
      c.close();
    });
    while (c.recv()) {
    }
    done = true;
    join();
    EXPECT_GT(snapshots.load(), 0);
    auto prof = weft::profile::stop_cpu();
    for (auto& s : prof.samples) {
      EXPECT_FALSE(s.pcs.empty());
      EXPECT_GE(s.count, 1);
    }
  });
}

TEST_P(ProfileTest, BlockProfileRecordsTheBlockedStackAndLabels) {
  run([&] {
    weft::set_block_profile_rate(1);
    EXPECT_EQ(weft::profile::block_rate(), 1);
    weft::Chan<int> ch(0);
    std::atomic<weft::FiberId> receiver{0};
    int got = 0;
    go([&] {
      receiver = weft::this_fiber_id();
      weft::with_labels({{"op", "recv"}}, [&] { got = recv_for_block_profile(ch); });
    });
    wait_parked(receiver, weft::WaitReason::chan_receive);
    ch.send(41);
    join();
    weft::set_block_profile_rate(0);
    EXPECT_EQ(got, 42);
    bool found = false;
    for (auto& s : weft::profile::block()) {
      if (!kBlock.any(s.pcs)) continue;
      found = true;
      EXPECT_TRUE(has_label(s.labels, "op", "recv"));
      EXPECT_GE(s.count, 1);
      EXPECT_GE(s.value, 0);
      // The recorder's own frame is skipped: the innermost pc is in the runtime's
      // channel receive, and our function is its caller's caller at most.
      EXPECT_FALSE(kBlock.contains(s.pcs[0]));
    }
    EXPECT_TRUE(found);
    // The per-site profile still sees the same event.
    bool site = false;
    for (auto& r : weft::block_profile())
      if (r.file.find("profile_test.cpp") != std::string::npos &&
          r.reason == weft::WaitReason::chan_receive)
        site = true;
    EXPECT_TRUE(site);
  });
}

TEST_P(ProfileTest, MutexProfileRecordsTheContendedStack) {
  run([&] {
    const int old = weft::set_mutex_profile_fraction(1);
    EXPECT_EQ(weft::profile::mutex_fraction(), 1);
    weft::Mutex mu;
    mu.lock();
    std::atomic<weft::FiberId> contender{0};
    go([&] {
      contender = weft::this_fiber_id();
      weft::with_labels({{"op", "lock"}}, [&] { lock_for_mutex_profile(mu); });
    });
    wait_parked(contender, weft::WaitReason::mutex);
    mu.unlock();
    join();
    weft::set_mutex_profile_fraction(old);
    bool found = false;
    for (auto& s : weft::profile::mutex())
      if (kMutex.any(s.pcs)) {
        found = true;
        EXPECT_TRUE(has_label(s.labels, "op", "lock"));
        EXPECT_GE(s.count, 1);
      }
    EXPECT_TRUE(found);
  });
}

TEST_P(ProfileTest, FiberStacksShowParkedFibersWithTheirFunctions) {
  run([&] {
    weft::Chan<int> ch(0);
    std::atomic<weft::FiberId> parked{0};
    weft::WaitGroup wg;
    wg.add(1);
    weft::go("parked-for-stacks", [&, wg] {
      parked = weft::this_fiber_id();
      weft::with_labels({{"role", "parked"}}, [&] { park_for_fiber_stacks(ch); });
      wg.done();
    });
    wait_parked(parked, weft::WaitReason::chan_receive);
    const auto stacks = weft::profile::fiber_stacks();
    bool saw_parked = false, saw_self = false;
    for (auto& f : stacks) {
      if (f.info.id == parked.load()) {
        saw_parked = true;
        EXPECT_EQ(f.info.name, "parked-for-stacks");
        EXPECT_EQ(f.info.state, weft::FiberState::waiting);
        EXPECT_EQ(f.info.wait_reason, weft::WaitReason::chan_receive);
        EXPECT_TRUE(has_label(f.labels, "role", "parked"));
        EXPECT_TRUE(kPark.any(f.pcs)) << f.pcs.size() << " pcs";
      }
      if (f.info.id == weft::this_fiber_id()) {
        saw_self = true;
        EXPECT_EQ(f.info.state, weft::FiberState::running);
        EXPECT_FALSE(f.pcs.empty());  // the caller's own stack
      }
    }
    EXPECT_TRUE(saw_parked);
    EXPECT_TRUE(saw_self);
    // Every fiber of fibers() is there (the parked one cannot have left).
    EXPECT_GE(stacks.size(), 2u);
    ch.send(1);
    wg.wait();
  });
}

WEFT_INSTANTIATE(ProfileTest);

}  // namespace
