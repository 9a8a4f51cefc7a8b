// chan_test.cpp: channels (runtime/src/chan.cpp), a semantics table after the Go spec.
#include "weft/chan.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "weft/introspect.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#include "weft_test.h"

namespace {

using namespace std::chrono_literals;

class ChanTest : public WeftTest {};
WEFT_INSTANTIATE(ChanTest);

TEST_P(ChanTest, UnbufferedHandsValuesOverInOrder) {
  run([&] {
    weft::Chan<int> ch(0);
    EXPECT_EQ(ch.cap(), 0u);
    go([ch] {
      for (int i = 0; i < 1000; i++) ch.send(i);
      ch.close();
    });
    int expect = 0;
    for (int v : ch) EXPECT_EQ(v, expect++);
    EXPECT_EQ(expect, 1000);
  });
}

TEST_P(ChanTest, UnbufferedSendWaitsForAReceiver) {
  run([&] {
    weft::Chan<int> ch(0);
    EXPECT_FALSE(ch.try_send(1));  // nobody receiving
    std::atomic<bool> sent{false};
    go([ch, &sent] {
      ch.send(7);
      sent = true;
    });
    weft::sleep_for(2ms);
    EXPECT_FALSE(sent);  // still parked in send
    EXPECT_EQ(ch.recv(), 7);
    while (!sent) weft::yield();
  });
}

TEST_P(ChanTest, BufferedFillsWithoutBlockingThenBlocks) {
  run([&] {
    weft::Chan<std::string> ch(3);
    EXPECT_TRUE(ch.try_send("a"));
    ch.send("b");
    EXPECT_TRUE(ch.try_send("c"));
    EXPECT_EQ(ch.len(), 3u);
    EXPECT_FALSE(ch.try_send("d"));  // full
    std::atomic<bool> sent{false};
    go([ch, &sent] {
      ch.send("d");  // parks until there is room
      sent = true;
    });
    weft::sleep_for(2ms);
    EXPECT_FALSE(sent);
    EXPECT_EQ(ch.recv(), "a");  // frees a slot: the parked sender's "d" moves in
    while (!sent) weft::yield();
    EXPECT_EQ(ch.recv(), "b");
    EXPECT_EQ(ch.recv(), "c");
    EXPECT_EQ(ch.recv(), "d");
    EXPECT_EQ(ch.len(), 0u);
    bool closed = true;
    EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
    EXPECT_FALSE(closed);
  });
}

TEST_P(ChanTest, ClosedChannelDrainsThenReportsClosed) {
  run([&] {
    weft::Chan<int> ch(4);
    ch.send(1);
    ch.send(2);
    ch.close();
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.try_recv(), 2);
    EXPECT_EQ(ch.recv(), std::nullopt);
    bool closed = false;
    EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
    EXPECT_TRUE(closed);
    EXPECT_THROW(ch.send(3), weft::ChanClosedError);
    EXPECT_THROW(ch.try_send(3), weft::ChanClosedError);
    EXPECT_THROW(ch.close(), weft::ChanClosedError);
  });
}

TEST_P(ChanTest, CloseWakesEveryWaiter) {
  run([&] {
    weft::Chan<int> recvs(0), sends(0);
    std::atomic<int> got_closed{0}, threw{0};
    weft::WaitGroup wg;
    for (int i = 0; i < 20; i++) {
      wg.add(2);
      weft::go([recvs, wg, &got_closed] {
        if (!recvs.recv()) got_closed++;
        wg.done();
      });
      weft::go([sends, wg, &threw] {
        try {
          sends.send(1);
        } catch (const weft::ChanClosedError&) {
          threw++;
        }
        wg.done();
      });
    }
    weft::sleep_for(2ms);  // let them all park
    recvs.close();
    sends.close();
    wg.wait();
    EXPECT_EQ(got_closed.load(), 20);
    EXPECT_EQ(threw.load(), 20);
  });
}

TEST_P(ChanTest, NilChannel) {
  run([&] {
    weft::Chan<int> nil;
    EXPECT_TRUE(nil.nil());
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_EQ(nil.try_recv(), std::nullopt);
    EXPECT_EQ(nil.len(), 0u);
    EXPECT_EQ(nil.cap(), 0u);
    EXPECT_THROW(nil.close(), weft::ChanClosedError);
  });
}

TEST(ChanNil, RecvOnNilBlocksForever) {
  std::string reason;
  weft::run([&] {
    weft::Chan<int> nil;
    weft::go("stuck", [nil] { nil.recv(); });
    for (int i = 0; i < 100000 && reason.empty(); i++) {
      for (auto& f : weft::fibers())
        if (f.name == "stuck" && f.state == weft::FiberState::waiting)
          reason = weft::to_string(f.wait_reason);
      weft::yield();
    }
  });
  EXPECT_EQ(reason, "chan receive");
  EXPECT_EQ(weft::stats().leaked_at_exit, 1u);  // like a goroutine stuck at exit
}

TEST_P(ChanTest, MoveOnlyPayloads) {
  run([&] {
    weft::Chan<std::unique_ptr<int>> ch(2);
    go([ch] {
      for (int i = 0; i < 100; i++) ch.send(std::make_unique<int>(i));
      ch.close();
    });
    int sum = 0;
    for (auto& p : ch) sum += *p;
    EXPECT_EQ(sum, 99 * 100 / 2);
    weft::Chan<std::unique_ptr<int>> un(0);
    go([un] { un.send(std::make_unique<int>(42)); });
    auto v = un.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(**v, 42);
  });
}

TEST_P(ChanTest, BufferedElementsAreDestroyedWithTheChannel) {
  auto counter = std::make_shared<int>(0);
  run([&] {
    weft::Chan<std::shared_ptr<int>> ch(8);
    for (int i = 0; i < 5; i++) ch.send(counter);
    EXPECT_EQ(counter.use_count(), 6);
  });
  EXPECT_EQ(counter.use_count(), 1);
}

TEST_P(ChanTest, NoLostWakeupsManyProducersAndConsumers) {
  // 8 producers x 12500 values through a small buffer to 8 consumers, all Ps.
  constexpr int kProducers = 8, kEach = 12500;
  std::atomic<long> sum{0}, count{0};
  run([&] {
    for (std::size_t cap : {std::size_t{0}, std::size_t{4}}) {
      weft::Chan<int> ch(cap);
      weft::WaitGroup producers, consumers;
      for (int p = 0; p < kProducers; p++) {
        producers.add(1);
        weft::go([ch, producers, p] {
          for (int i = 0; i < kEach; i++) ch.send(p * kEach + i);
          producers.done();
        });
      }
      for (int c = 0; c < 8; c++) {
        consumers.add(1);
        weft::go([ch, consumers, &sum, &count] {
          for (int v : ch) {
            sum += v;
            count++;
          }
          consumers.done();
        });
      }
      producers.wait();
      ch.close();
      consumers.wait();
    }
  });
  const long n = static_cast<long>(kProducers) * kEach;
  EXPECT_EQ(count.load(), 2 * n);
  EXPECT_EQ(sum.load(), 2 * (n * (n - 1) / 2));
}

TEST_P(ChanTest, PlainThreadsAndFibersShareAChannel) {
  run([&] {
    weft::Chan<int> ch(0);
    std::thread producer([ch] {
      for (int i = 1; i <= 100; i++) ch.send(i);
      ch.close();
    });
    int sum = 0;
    for (int v : ch) sum += v;
    EXPECT_EQ(sum, 5050);
    weft::blocking([&] { producer.join(); });
  });
}

TEST_P(ChanTest, BlockedFibersShowTheirWaitReason) {
  run([&] {
    weft::Chan<int> in(0), out(0);
    weft::WaitGroup done;
    done.add(2);
    weft::go("receiver", [in, done] {
      in.recv();
      done.done();
    });
    weft::go("sender", [out, done] {
      out.send(1);
      done.done();
    });
    std::string r, s;
    for (int i = 0; i < 100000 && (r.empty() || s.empty()); i++) {
      for (auto& f : weft::fibers()) {
        if (f.state != weft::FiberState::waiting) continue;
        if (f.name == "receiver") r = weft::to_string(f.wait_reason);
        if (f.name == "sender") s = weft::to_string(f.wait_reason);
      }
      weft::yield();
    }
    EXPECT_EQ(r, "chan receive");
    EXPECT_EQ(s, "chan send");
    in.send(0);
    out.recv();
    done.wait();
  });
}

}  // namespace
