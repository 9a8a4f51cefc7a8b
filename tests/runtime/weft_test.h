// weft_test.h: the shared fixture. Each test body runs as `main` of a fresh runtime,
// once per processor count, and the fixture checks that no fiber outlived it.
#pragma once

#include <gtest/gtest.h>

#include <functional>

#include "weft/introspect.h"
#include "weft/runtime.h"
#include "weft/waitgroup.h"

class WeftTest : public ::testing::TestWithParam<int> {
 protected:
  // run() runs `body` in weft::run with GetParam() processors.
  void run(std::function<void()> body) {
    weft::Options opts;
    opts.procs = GetParam();
    weft::run(
        [&] {
          body();
          helpers_.wait();
        },
        opts);
    auto st = weft::stats();
    EXPECT_EQ(st.leaked_at_exit, 0u) << "fibers still alive when main returned";
  }
  int procs() const { return GetParam(); }

  // go() starts a helper fiber that run() waits for before main returns. A fiber that
  // hands a value over is not finished yet: without the wait it may still be runnable
  // when main returns, and the leak check above would fire for the test, not the runtime.
  void go(std::function<void()> fn) {
    helpers_.add(1);
    weft::go([wg = helpers_, fn = std::move(fn)]() mutable {
      fn();
      wg.done();
    });
  }

  // join() waits for the helpers now: a test whose helpers capture its locals by
  // reference calls it before the locals go out of scope.
  void join() { helpers_.wait(); }

 private:
  weft::WaitGroup helpers_;
};

#define WEFT_INSTANTIATE(suite)                                          \
  INSTANTIATE_TEST_SUITE_P(Procs, suite, ::testing::Values(1, 2, 4, 64), \
                           [](const auto& info) { return std::to_string(info.param) + "procs"; })
