// context_test.cpp: Context trees, cancellation and deadlines (runtime/src/context_tree.cpp).
#include "weft/context.h"

#include <chrono>

#include "weft/select.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

class ContextTest : public WeftTest {};
WEFT_INSTANTIATE(ContextTest);

TEST_P(ContextTest, BackgroundIsNeverDone) {
  run([&] {
    auto bg = weft::Context::background();
    EXPECT_TRUE(bg.done().nil());
    EXPECT_EQ(bg.err(), weft::ContextError::none);
    EXPECT_FALSE(bg.deadline().has_value());
  });
}

TEST_P(ContextTest, CancelClosesDoneAndSaysWhy) {
  run([&] {
    auto [ctx, cancel] = weft::with_cancel(weft::Context::background());
    EXPECT_EQ(ctx.err(), weft::ContextError::none);
    bool was_done = false;
    weft::WaitGroup watcher;
    watcher.add(1);
    weft::go([ctx = ctx, &was_done, watcher] {
      was_done = !ctx.done().recv();
      watcher.done();
    });
    weft::sleep_for(1ms);
    cancel();
    cancel();  // idempotent
    EXPECT_EQ(ctx.done().recv(), std::nullopt);
    EXPECT_EQ(ctx.err(), weft::ContextError::canceled);
    EXPECT_STREQ(weft::to_string(ctx.err()), "context canceled");
    watcher.wait();
    EXPECT_TRUE(was_done);
  });
}

TEST_P(ContextTest, CancellationFlowsDownNotUp) {
  run([&] {
    auto [root, cancel_root] = weft::with_cancel(weft::Context::background());
    auto [mid, cancel_mid] = weft::with_cancel(root);
    auto [leaf, cancel_leaf] = weft::with_cancel(mid);
    auto [sibling, cancel_sibling] = weft::with_cancel(root);
    cancel_mid();
    EXPECT_EQ(mid.err(), weft::ContextError::canceled);
    EXPECT_EQ(leaf.err(), weft::ContextError::canceled);
    EXPECT_EQ(root.err(), weft::ContextError::none);
    EXPECT_EQ(sibling.err(), weft::ContextError::none);
    cancel_root();
    EXPECT_EQ(sibling.err(), weft::ContextError::canceled);
    // Derived from an already cancelled parent: cancelled at once.
    auto [late, cancel_late] = weft::with_cancel(root);
    EXPECT_EQ(late.err(), weft::ContextError::canceled);
    cancel_leaf();
    cancel_sibling();
    cancel_late();
  });
}

TEST_P(ContextTest, TimeoutExpires) {
  run([&] {
    auto t0 = weft::Clock::now();
    auto [ctx, cancel] = weft::with_timeout(weft::Context::background(), 3ms);
    ASSERT_TRUE(ctx.deadline().has_value());
    ctx.done().recv();  // closed by the timer
    EXPECT_GE(weft::Clock::now() - t0, 3ms);
    EXPECT_EQ(ctx.err(), weft::ContextError::deadline_exceeded);
    EXPECT_STREQ(weft::to_string(ctx.err()), "context deadline exceeded");
    cancel();
    EXPECT_EQ(ctx.err(), weft::ContextError::deadline_exceeded);  // the first reason stays
  });
}

TEST_P(ContextTest, ChildInheritsTheEarlierDeadline) {
  run([&] {
    auto [parent, cancel_parent] = weft::with_timeout(weft::Context::background(), 2ms);
    auto [child, cancel_child] = weft::with_timeout(parent, 1h);
    EXPECT_EQ(child.deadline(), parent.deadline());
    child.done().recv();
    EXPECT_EQ(child.err(), weft::ContextError::deadline_exceeded);
    cancel_child();
    cancel_parent();
  });
}

TEST_P(ContextTest, DoneIsASelectCase) {
  run([&] {
    auto [ctx, cancel] = weft::with_timeout(weft::Context::background(), 2ms);
    weft::Chan<int> never(0);
    bool timed_out = false;
    weft::select(weft::on_recv(never, [](std::optional<int>) { FAIL(); }),
                 weft::on_recv(ctx.done(), [&](auto) { timed_out = true; }));
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(ctx.err(), weft::ContextError::deadline_exceeded);
    cancel();
  });
}

}  // namespace
