// stack_test.cpp: fiber stacks (runtime/src/stack*.cpp).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "weft/detail/test_hooks.h"
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
