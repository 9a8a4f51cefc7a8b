// stack_test.cpp: fiber stacks (runtime/src/stack*.cpp).
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "test_hooks.h"
#include "weft/chan.h"
#include "weft/introspect.h"
#include "weft/mutex.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

// Each frame holds 256 bytes the compiler cannot elide.
__attribute__((noinline)) long recurse(int depth) {
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  if (depth == 0) return pad[0];
  long r = recurse(depth - 1) + 1;
  return r + (pad[0] - static_cast<char>(depth));
}

__attribute__((noinline)) long recurse_then_throw(int depth) {
  volatile char pad[256];
  pad[0] = 1;
  if (depth == 0) throw std::runtime_error("bottom");
  return recurse_then_throw(depth - 1) + pad[0];
}

__attribute__((noinline)) std::string recurse_with_libc(int depth) {
  volatile char pad[128];
  pad[0] = 'a';
  if (depth == 0) {
    // Non-split code (libc, libstdc++) called from the deepest segment.
    char buf[64];
    std::snprintf(buf, sizeof buf, "%d-%s", 42, "ok");
    std::ostringstream os;
    os << buf << ':' << 3.5;
    return os.str();
  }
  return recurse_with_libc(depth - 1) + (pad[0] == 'a' ? "" : "!");
}

class StackTest : public WeftTest {};
WEFT_INSTANTIATE(StackTest);

bool segmented() { return std::strcmp(weft::detail::TEST_stack_kind(), "segmented") == 0; }

TEST_P(StackTest, DeepRecursionThousandTimesTheFirstSegment) {
  run([&] {
    std::size_t first = weft::detail::TEST_first_stack_size();
    ASSERT_GT(first, 0u);
    // Guarded stacks are fixed: stay within them. Segmented ones grow without bound.
    int depth = segmented() ? static_cast<int>(first * 1000 / 256) : 400;
    weft::WaitGroup wg;
    long result = -1;
    wg.add(1);
    weft::go([&, wg] {
      result = recurse(depth);
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(result, depth);
  });
}

TEST_P(StackTest, ExceptionsUnwindAcrossSegments) {
  run([&] {
    int depth = segmented() ? 20000 : 400;
    weft::WaitGroup wg;
    bool caught = false;
    wg.add(1);
    weft::go([&, wg] {
      try {
        recurse_then_throw(depth);
      } catch (const std::runtime_error& e) {
        caught = std::string(e.what()) == "bottom";
      }
      wg.done();
    });
    wg.wait();
    EXPECT_TRUE(caught);
  });
}

TEST_P(StackTest, NonSplitCodeOnDeepSegments) {
  run([&] {
    weft::WaitGroup wg;
    std::vector<std::string> out(50);
    for (int i = 0; i < 50; i++) {
      wg.add(1);
      weft::go([&, wg, i] {
        out[static_cast<std::size_t>(i)] = recurse_with_libc(segmented() ? i * 37 : i);
        wg.done();
      });
    }
    wg.wait();
    for (auto& s : out) EXPECT_EQ(s, "42-ok:3.5");
  });
}

TEST_P(StackTest, RecycledStacksStartClean) {
  // Fibers that grew deep stacks finish; their Gs and stacks are reused.
  run([&] {
    for (int round = 0; round < 20; round++) {
      weft::WaitGroup wg;
      for (int i = 0; i < 100; i++) {
        wg.add(1);
        weft::go([wg, i] {
          EXPECT_EQ(recurse(50 + i % 50), 50 + i % 50);
          wg.done();
        });
      }
      wg.wait();
    }
  });
}

TEST_P(StackTest, RuntimeCallsNeverGrowAFiberStack) {
  // With segmented stacks, a fiber that only uses the runtime stays on its 2 KiB first
  // segment: the runtime's own libc calls run on the M's system stack.
  if (!segmented()) GTEST_SKIP() << "guarded stacks do not grow";
  run([&] {
    weft::Mutex mu;
    weft::WaitGroup wg, children;
    std::atomic<int> grown{0};
    for (int i = 0; i < 200; i++) {
      wg.add(1);
      // The body keeps no local with a destructor: a landing pad calls _Unwind_Resume
      // (libgcc, not split-stack), which alone would make gold grow the stack of any
      // function that has one -- user code pays that, and docs/design.md says so.
      weft::go([&, wg] {
        for (int k = 0; k < 20; k++) {
          mu.lock();
          weft::yield();
          mu.unlock();
        }
        children.add(1);
        weft::go([&] { children.done(); });
        weft::sleep_for(std::chrono::microseconds(100));
        if (weft::detail::TEST_fiber_has_segments()) grown++;
        wg.done();
      });
    }
    wg.wait();
    children.wait();
    EXPECT_EQ(grown.load(), 0);
  });
}

// check_pattern() fills `n` bytes of its frame, parks on `ch`, and checks the bytes are
// intact after the wake-up: what lies above a parked fiber's stack pointer must survive
// trimming.
__attribute__((noinline)) bool park_with_pattern(weft::Chan<int>& ch, int seed) {
  volatile unsigned char buf[1024];
  for (int i = 0; i < 1024; i++) buf[i] = static_cast<unsigned char>(seed * 31 + i);
  auto v = ch.recv();
  bool ok = v.has_value();
  for (int i = 0; i < 1024; i++) ok = ok && buf[i] == static_cast<unsigned char>(seed * 31 + i);
  return ok;
}

// deep_pattern() goes `depth` frames deep and, there, keeps a pattern alive for ~200 µs
// while re-checking it: right after a wake-up these pages lie below the stack pointer
// the fiber was parked at, exactly what a trim that raced with the resumption drops.
__attribute__((noinline)) bool deep_pattern(int depth) {
  volatile unsigned char pad[256];
  pad[0] = static_cast<unsigned char>(depth);
  if (depth > 0) return deep_pattern(depth - 1) && pad[0] == static_cast<unsigned char>(depth);
  volatile unsigned char buf[2048];
  for (int i = 0; i < 2048; i++) buf[i] = static_cast<unsigned char>(i * 7 + 1);
  bool ok = true;
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  while (ok && std::chrono::steady_clock::now() < until)
    for (int i = 0; i < 2048; i += 64) ok = ok && buf[i] == static_cast<unsigned char>(i * 7 + 1);
  return ok;
}

// recurse_low() is recurse() that also reports the lowest stack address it touched.
__attribute__((noinline)) long recurse_low(int depth, std::uintptr_t* low) {
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  if (depth == 0) {
    *low = reinterpret_cast<std::uintptr_t>(&pad[0]);
    return pad[0];
  }
  long r = recurse_low(depth - 1, low) + 1;
  return r + (pad[0] - static_cast<char>(depth));
}

// resident_pages() counts the resident pages of [lo, hi) (page-aligned) with mincore.
long resident_pages(std::uintptr_t lo, std::uintptr_t hi) {
  const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  if (hi <= lo) return 0;
  std::vector<unsigned char> vec((hi - lo) / page);
  if (mincore(reinterpret_cast<void*>(lo), hi - lo, vec.data()) != 0) return -1;
  long n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

// A fiber that once went deep and then parked gives the deep pages back; what it holds
// above its stack pointer survives, and it can go deep again after the wake-up.
TEST(StackTrim, ParkedFibersGiveBackTheirDeepPages) {
  if (segmented()) GTEST_SKIP() << "segmented stacks are not trimmed";
  constexpr int kFibers = 64;
  static constexpr int kDepth = 200;  // ~64 KiB of frames
  std::uint64_t trimmed = 0;
  std::atomic<int> intact{0}, checked{0}, still_resident{0};
  weft::Options opts;
  opts.stack_trim_after_ms = 5;
  weft::run(
      [&] {
        std::vector<weft::Chan<int>> chans;
        for (int i = 0; i < kFibers; i++) chans.emplace_back(0);
        weft::WaitGroup wg, deep;
        for (int i = 0; i < kFibers; i++) {
          wg.add(1);
          deep.add(1);
          weft::go([wg, deep, ch = chans[i], i, &intact, &checked, &still_resident]() mutable {
            const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
            std::uintptr_t low = 0;
            EXPECT_EQ(recurse_low(kDepth, &low), kDepth);
            deep.done();
            if (park_with_pattern(ch, i)) intact++;
            // Woken after the trim: the deep pages, well below where this fiber parked
            // (three pages of margin for park_with_pattern, the runtime's frames and
            // resident_pages itself), are no longer resident.
            volatile char here = 0;
            const std::uintptr_t top =
                (reinterpret_cast<std::uintptr_t>(&here) & ~(page - 1)) - 3 * page;
            const std::uintptr_t bottom = (low + page - 1) & ~(page - 1);
            if (top > bottom + 4 * page) {
              checked++;
              if (resident_pages(bottom, top) != 0) still_resident++;
            }
            EXPECT_EQ(recurse(kDepth), kDepth);
            wg.done();
          });
        }
        deep.wait();
        // Bounded wait for sysmon's passes (~5 ms after the last fiber parked).
        for (int k = 0; k < 2000 && weft::stats().stack_trims < std::uint64_t(kFibers); k++)
          weft::sleep_for(std::chrono::milliseconds(5));
        // main may have been one of them: a few more passes reach every parked helper.
        weft::sleep_for(std::chrono::milliseconds(100));
        trimmed = weft::stats().stack_trims;
        for (auto& ch : chans) ch.send(1);
        wg.wait();
      },
      opts);
  EXPECT_GE(trimmed, std::uint64_t(kFibers));
  EXPECT_EQ(checked.load(), kFibers) << "the deep frames did not span enough pages to check";
  EXPECT_EQ(still_resident.load(), 0) << "trimmed pages are still resident";
  EXPECT_EQ(intact.load(), kFibers);
}

// Fibers park and wake continuously while sysmon trims every fiber that has waited a
// few milliseconds: a trim must never race with the fiber's resumption (its deep frames
// or the bytes above its stack pointer would be lost).
TEST(StackTrim, TrimmingRacesWithWakeups) {
  if (segmented()) GTEST_SKIP() << "segmented stacks are not trimmed";
  constexpr int kFibers = 100, kRounds = 30;
  std::atomic<int> intact{0};
  std::uint64_t trimmed = 0;
  weft::Options opts;
  opts.stack_trim_after_ms = 1;
  weft::run(
      [&] {
        weft::WaitGroup wg;
        for (int i = 0; i < kFibers; i++) {
          wg.add(1);
          weft::go([wg, i, &intact]() mutable {
            weft::Chan<int> ch(1);
            for (int r = 0; r < kRounds; r++) {
              EXPECT_EQ(recurse(40 + (i + r) % 40), 40 + (i + r) % 40);
              // Wake ourselves through a helper after 0-7 ms (the coarse clock ticks 4 ms).
              weft::go([ch, d = (i * 7 + r * 3) % 8]() mutable {
                weft::sleep_for(std::chrono::milliseconds(d));
                ch.send(1);
              });
              if (park_with_pattern(ch, i + r) && deep_pattern(20)) intact++;
            }
            wg.done();
          });
        }
        wg.wait();
        trimmed = weft::stats().stack_trimmed_bytes;
      },
      opts);
  EXPECT_EQ(intact.load(), kFibers * kRounds);
  EXPECT_GT(trimmed, 0u) << "no trim ran: the race was not exercised";
}

int mappings() {
  int n = 0;
  if (FILE* f = std::fopen("/proc/self/maps", "r")) {
    for (int c; (c = std::fgetc(f)) != EOF;) n += c == '\n';
    std::fclose(f);
  }
  return n;
}

TEST(StackGuards, ThousandsOfGuardedStacksAddFewMappings) {
  // Stacks come from chunks mapped 64 at a time, and with the kernel's guard regions a
  // guard page does not split its chunk: 4096 live fibers, each on a guarded stack,
  // add a handful of mappings (with a mapping and an mprotect per stack: 8192 or more).
  if (segmented()) GTEST_SKIP() << "segmented stacks have no guard pages";
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan maps memory of its own for every fiber";
#endif
  static constexpr int kFibers = 4096;
  weft::run([] {
    if (!weft::detail::TEST_stack_guard_regions()) {
      std::printf("kernel without MADV_GUARD_INSTALL: mprotect guards, not checked\n");
      return;
    }
    const int before = mappings();
    weft::Chan<int> release(0);
    weft::WaitGroup started, done;
    std::atomic<int> guarded{0};
    started.add(kFibers);
    done.add(kFibers);
    for (int i = 0; i < kFibers; i++)
      weft::go([&, started, done]() mutable {
        if (weft::detail::TEST_stack_guarded()) guarded++;
        started.done();
        release.recv();
        done.done();
      });
    started.wait();
    const int after = mappings();
    release.close();
    done.wait();
    EXPECT_EQ(guarded.load(), kFibers);
    EXPECT_LT(after - before, kFibers / 16) << before << " mappings before, " << after << " after";
  });
}

TEST(StackDeath, GuardedOverflowNamesTheFiber) {
  if (segmented()) GTEST_SKIP() << "segmented stacks grow instead of overflowing";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        weft::Options opts;
        opts.stack_size = 64 * 1024;
        weft::run(
            [] {
              weft::go("deep-diver", [] { recurse(1 << 20); });
              weft::sleep_for(std::chrono::seconds(5));
            },
            opts);
      },
      ::testing::ExitedWithCode(2),
      "stack overflow in fiber [0-9]+ \"deep-diver\"(.|\n)*stack_test.cpp");
}

}  // namespace
