// introspect_test.cpp: the fiber registry, counters and block profile
// (runtime/src/introspect.cpp, registry.cpp, blockprof.cpp).
#include "weft/introspect.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "weft/mutex.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

class IntrospectTest : public WeftTest {};
WEFT_INSTANTIATE(IntrospectTest);

const weft::FiberInfo* find(const std::vector<weft::FiberInfo>& fs, const std::string& name) {
  for (auto& f : fs)
    if (f.name == name) return &f;
  return nullptr;
}

TEST_P(IntrospectTest, RegistryShowsStateReasonAndSite) {
  run([&] {
    weft::Mutex mu;
    mu.lock();
    weft::WaitGroup done;
    done.add(2);
    weft::go("sleeper", [done] {
      weft::sleep_for(50ms);
      done.done();
    });
    weft::go("locker", [&mu, done] {
      mu.lock();
      mu.unlock();
      done.done();
    });
    // Wait until both are parked where we expect.
    std::vector<weft::FiberInfo> fs;
    for (int i = 0; i < 100000; i++) {
      fs = weft::fibers();
      auto* s = find(fs, "sleeper");
      auto* l = find(fs, "locker");
      if (s && l && s->state == weft::FiberState::waiting && l->state == weft::FiberState::waiting)
        break;
      weft::yield();
    }
    auto* s = find(fs, "sleeper");
    auto* l = find(fs, "locker");
    ASSERT_NE(s, nullptr);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(s->state, weft::FiberState::waiting);
    EXPECT_STREQ(weft::to_string(s->wait_reason), "sleep");
    EXPECT_STREQ(weft::to_string(l->wait_reason), "sync.Mutex.Lock");
    EXPECT_NE(s->created_file.find("introspect_test.cpp"), std::string::npos);
    EXPECT_GT(s->created_line, 0u);
    auto* self = find(fs, "main");
    ASSERT_NE(self, nullptr);
    EXPECT_EQ(self->state, weft::FiberState::running);
    mu.unlock();
    done.wait();
    // Finished fibers leave the registry (they exit just after done()).
    for (int i = 0; i < 100000; i++) {
      fs = weft::fibers();
      if (!find(fs, "sleeper") && !find(fs, "locker")) break;
      weft::yield();
    }
    EXPECT_EQ(find(fs, "sleeper"), nullptr);
    EXPECT_EQ(find(fs, "locker"), nullptr);
  });
}

TEST_P(IntrospectTest, CountersAndPerProcStats) {
  run([&] {
    weft::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      wg.add(1);
      weft::go([wg] { wg.done(); });
    }
    wg.wait();
    auto st = weft::stats();
    EXPECT_EQ(st.procs, procs());
    EXPECT_GE(st.spawned, 101u);
    EXPECT_GE(st.switches, 100u);
    EXPECT_EQ(st.per_proc.size(), static_cast<std::size_t>(procs()));
    EXPECT_GE(st.threads, 1);
    EXPECT_GE(st.live_fibers, 1);
  });
}

TEST(BlockProfile, RecordsWhereFibersBlocked) {
  weft::set_block_profile_rate(1);
  weft::run([] {
    weft::Mutex mu;
    mu.lock();
    weft::WaitGroup wg;
    wg.add(1);
    weft::go("blocked", [&mu, wg] {
      mu.lock();  // blocks here
      mu.unlock();
      weft::sleep_for(5ms);  // so that main is surely waiting below
      wg.done();
    });
    // Unlock only once the fiber is parked on the mutex.
    for (int i = 0; i < 1000000; i++) {
      auto fs = weft::fibers();
      auto* f = find(fs, "blocked");
      if (f && f->state == weft::FiberState::waiting) break;
      weft::yield();
    }
    mu.unlock();
    wg.wait();  // and the main fiber blocks here
  });
  weft::set_block_profile_rate(0);
  auto recs = weft::block_profile();
  bool mutex_site = false, wg_site = false;
  for (auto& r : recs) {
    if (r.file.find("introspect_test.cpp") == std::string::npos) continue;
    if (r.reason == weft::WaitReason::mutex && r.count >= 1 && r.delay_ns > 0) mutex_site = true;
    if (r.reason == weft::WaitReason::waitgroup && r.count >= 1) wg_site = true;
  }
  EXPECT_TRUE(mutex_site);
  EXPECT_TRUE(wg_site);
}

}  // namespace
