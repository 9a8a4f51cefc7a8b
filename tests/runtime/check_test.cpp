// check_test.cpp: the runtime's checked invariants (runtime/src/check.h, lock_rank.h) fire.
//
// Each death test breaks one rule through TEST_violate() and expects the process to abort
// with that check's message. They run only where the checks are built in (Debug builds,
// or -DWEFT_CHECKS=ON); elsewhere the rules are unchecked and the tests skip.
#include <gtest/gtest.h>

#include "test_hooks.h"
#include "weft/chan.h"
#include "weft/runtime.h"
#include "weft/select.h"

namespace {

using weft::detail::TEST_checks_enabled;
using weft::detail::TEST_violate;
using weft::detail::Violation;

class CheckDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TEST_checks_enabled()) GTEST_SKIP() << "checks are off in this build (Debug only)";
    // Re-executes the binary for each death test: the runtime starts threads.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(CheckDeathTest, LockTakenAgainstItsRankAborts) {
  EXPECT_DEATH(TEST_violate(Violation::lock_order), "lock order violation: acquiring sched");
}

TEST_F(CheckDeathTest, LockTakenTwiceAborts) {
  EXPECT_DEATH(TEST_violate(Violation::lock_twice), "acquiring \\(again\\) wait_list");
}

TEST_F(CheckDeathTest, WaitListsAgainstAddressOrderAbort) {
  EXPECT_DEATH(TEST_violate(Violation::wait_lists_out_of_order),
               "lock order violation: acquiring wait_list");
}

TEST_F(CheckDeathTest, ReleasingALockNotHeldAborts) {
  EXPECT_DEATH(TEST_violate(Violation::unlock_unheld), "does not hold");
}

TEST_F(CheckDeathTest, WaitListChangedWithoutItsLockAborts) {
  EXPECT_DEATH(TEST_violate(Violation::list_unlocked),
               "assertion failed: lock_rank_held\\(wl_guard");
}

TEST_F(CheckDeathTest, ReadyingARunningFiberAborts) {
  EXPECT_DEATH(TEST_violate(Violation::ready_running), "assertion failed: .*GStatus::waiting");
}

TEST_F(CheckDeathTest, ReadyingUnderAWaitListLockAborts) {
  EXPECT_DEATH(TEST_violate(Violation::ready_holding_lock),
               "assertion failed: !lock_rank_holds\\(LockRank::wait_list\\)");
}

TEST_F(CheckDeathTest, SwitchingWhileHoldingALockAborts) {
  EXPECT_DEATH(TEST_violate(Violation::switch_holding_lock),
               "assertion failed: lock_rank_nheld\\(\\)");
}

TEST_F(CheckDeathTest, RunQueueOfAnotherPAborts) {
  EXPECT_DEATH(TEST_violate(Violation::runq_not_owner), "assertion failed: p->m == getm\\(\\)");
}

// What the rules allow passes the checks: a channel's park holds its lock across the
// switch, and select locks several channels in address order.
TEST(Check, ChannelParksAndSelectsPassTheChecks) {
  weft::Options opts;
  opts.procs = 2;
  int got = 0;
  weft::run(
      [&] {
        weft::Chan<int> a(0), b(0);
        weft::go([a] { a.send(1); });
        got += a.recv().value_or(0);
        weft::go([b] { b.send(2); });
        weft::select(weft::on_recv(a, [&](std::optional<int> v) { got += v.value_or(0); }),
                     weft::on_recv(b, [&](std::optional<int> v) { got += v.value_or(0); }));
      },
      opts);
  EXPECT_EQ(got, 3);
}

}  // namespace
