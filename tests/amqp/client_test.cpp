// client_test.cpp: weft::amqp's client (amqp/src/client*.cpp) against a real broker:
// RabbitMQ, or weftd when compiled with WEFT_WEFTD (the path of the weftd executable).
// tests/CMakeLists.txt builds it twice: amqp_client_test (ctest label `rabbitmq`) and
// amqp_client_weftd_test (label `broker`). The same cases run against both; where the
// brokers legitimately differ (the product they announce) the test asks kProduct, and
// what weftd does not implement yet is skipped on kBroker with a reason.
//
// The binary boots one private broker for all its tests (BrokerEnv, a gtest
// Environment): rabbitmq_harness.h's rabbitmq-server, or weftd_harness.h's weftd, which
// must exit 0 on SIGTERM at the end. Run it as one process (ctest does), not test by
// test. Without rabbitmq-server installed the RabbitMQ tests fail (scripts/deps.sh test
// installs it); WEFT_SKIP_RABBITMQ=1 skips them. WEFT_RABBITMQ_SERVER names another
// server script.
//
// Every test body runs inside weft::run, once with 1 and once with 4 processors, and
// the fixture checks that no fiber of the client outlives its Connection. No test
// asserts on timing; waits for deliveries are bounded by a 30 s guard against hangs.
#include "weft/amqp/client.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "client_fixture.h"
#include "weft/time.h"
#include "weft/waitgroup.h"
#ifdef WEFT_WEFTD
#include "weftd_harness.h"
#else
#include "rabbitmq_harness.h"
#endif

using namespace std::chrono_literals;
using namespace weft_test;
namespace amqp = weft::amqp;

namespace {

// ---- the broker --------------------------------------------------------------------

enum class Broker { rabbitmq, weftd };
#ifdef WEFT_WEFTD
constexpr Broker kBroker = Broker::weftd;
constexpr const char* kProduct = "weftd";
#else
constexpr Broker kBroker = Broker::rabbitmq;
constexpr const char* kProduct = "RabbitMQ";
#endif

// BrokerEnv: the broker under test, for the whole binary.
class BrokerEnv : public ::testing::Environment {
 public:
  static inline bool skipped = false;
  static inline bool up = false;
  static inline int port = 0;
  static inline std::string why = "not started";

  void SetUp() override {
#ifdef WEFT_WEFTD
    harness_ = std::make_unique<WeftdHarness>(WEFT_WEFTD);
#else
    const char* skip = std::getenv("WEFT_SKIP_RABBITMQ");
    if (skip && std::string(skip) == "1") {
      skipped = true;
      return;
    }
    harness_ = std::make_unique<RabbitmqHarness>();
#endif
    if (!harness_->start()) FAIL() << (why = harness_->why());
    port = harness_->port();
    up = true;
  }

  void TearDown() override {
    if (!harness_) return;
    up = false;
    EXPECT_TRUE(harness_->stop()) << harness_->why();
    harness_.reset();
  }

 private:
  std::unique_ptr<BrokerHarness> harness_;
};

[[maybe_unused]] auto* const g_broker = ::testing::AddGlobalTestEnvironment(new BrokerEnv);

// ---- the fixture -------------------------------------------------------------------

class AmqpClientTest : public AmqpFixture {
 protected:
  void SetUp() override {
    if (BrokerEnv::skipped) GTEST_SKIP() << "WEFT_SKIP_RABBITMQ=1";
    ASSERT_TRUE(BrokerEnv::up) << BrokerEnv::why;
  }

  amqp::ConnectionOptions options() const {
    amqp::ConnectionOptions o;
    o.host = "127.0.0.1";
    o.port = static_cast<std::uint16_t>(BrokerEnv::port);
    return o;
  }
  amqp::Connection connect() { return amqp::Connection::open(options()); }

  // name() is unique per test and processor count: tests share one broker.
  std::string name(const std::string& base) const {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string n = base + "." + info->name();
    for (auto& ch : n)
      if (ch == '/') ch = '.';
    return n;
  }
};

INSTANTIATE_TEST_SUITE_P(Procs, AmqpClientTest, ::testing::Values(1, 4),
                         [](const auto& info) { return std::to_string(info.param) + "procs"; });

}  // namespace

// ---- connections -------------------------------------------------------------------

TEST_P(AmqpClientTest, ConnectsWithPlain) {
  amqp_run([&] {
    auto o = options();
    o.mechanism = amqp::Mechanism::plain;
    o.connection_name = "weft client_test";
    auto conn = amqp::Connection::open(o);
    EXPECT_TRUE(conn.is_open());
    EXPECT_EQ(str(conn.server_properties().find("product")), kProduct);
    auto ch = conn.channel();
    EXPECT_TRUE(ch.is_open());
    EXPECT_NE(ch.id(), 0);
    ch.close();
    EXPECT_FALSE(ch.is_open());
    EXPECT_FALSE(ch.error());  // closed by us: no error
    conn.close();
    EXPECT_FALSE(conn.is_open());
    EXPECT_FALSE(conn.error());
    auto e = expect_error([&] { conn.channel(); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 504);
  });
}

TEST_P(AmqpClientTest, ConnectsWithAmqplainAndAUri) {
  amqp_run([&] {
    auto conn =
        amqp::Connection::open("amqp://guest:guest@127.0.0.1:" + std::to_string(BrokerEnv::port) +
                               "/%2f?auth_mechanism=AMQPLAIN&heartbeat=7");
    EXPECT_EQ(conn.heartbeat(), 7s);
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    EXPECT_FALSE(q.name.empty());
  });
}

TEST_P(AmqpClientTest, RefusedCredentialsAndVhost) {
  amqp_run([&] {
    for (auto mech : {amqp::Mechanism::plain, amqp::Mechanism::amqplain}) {
      auto o = options();
      o.mechanism = mech;
      o.password = "wrong";
      auto e = expect_error([&] { amqp::Connection::open(o); });
      ASSERT_TRUE(e);
      EXPECT_EQ(e->code(), 403) << e->what();  // authentication_failure_close
      EXPECT_TRUE(e->connection_error());
    }
    auto o = options();
    o.vhost = "no-such-vhost";
    auto e = expect_error([&] { amqp::Connection::open(o); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 530) << e->what();
  });
}

TEST_P(AmqpClientTest, TuningIsNegotiated) {
  amqp_run([&] {
    auto o = options();
    o.heartbeat = 5s;
    o.frame_max = 8192;
    o.channel_max = 10;
    auto conn = amqp::Connection::open(o);
    EXPECT_EQ(conn.heartbeat(), 5s);  // smaller than the server's 60
    EXPECT_EQ(conn.frame_max(), 8192u);
    EXPECT_EQ(conn.channel_max(), 10);
    // A body far larger than frame_max crosses as many body frames.
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    std::string big(200000, '\0');
    for (std::size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 31 + i / 977);
    ch.basic_publish("", q.name, big);
    auto d = ch.basic_get(q.name, true);
    while (!d) d = ch.basic_get(q.name, true);  // routed by now or in a moment
    EXPECT_TRUE(d->body == big);

    o.heartbeat = 0s;  // zero loses to the server's value
    o.frame_max = 0;
    o.channel_max = 0;
    auto conn2 = amqp::Connection::open(o);
    EXPECT_EQ(conn2.heartbeat(), 60s);
    EXPECT_EQ(conn2.frame_max(), 131072u);
    EXPECT_EQ(conn2.channel_max(), 2047);
  });
}

TEST_P(AmqpClientTest, HeartbeatsKeepAnIdleConnectionOpen) {
  // With a 1 s heartbeat both sides give up after two silent intervals; sleeping past
  // that shows heartbeats flow both ways (RabbitMQ would close us, we would close it).
  amqp_run([&] {
    auto o = options();
    o.heartbeat = 1s;
    auto conn = amqp::Connection::open(o);
    EXPECT_EQ(conn.heartbeat(), 1s);
    auto ch = conn.channel();
    weft::sleep_for(3500ms);
    EXPECT_TRUE(conn.is_open()) << (conn.error() ? conn.error()->what() : "");
    auto q = ch.queue_declare("", {.exclusive = true});
    EXPECT_FALSE(q.name.empty());
  });
}

// ---- publishing and consuming ------------------------------------------------------

TEST_P(AmqpClientTest, DeclareBindPublishConsume) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    const std::string ex = name("weft.direct");
    ch.exchange_declare(ex, "direct", {.auto_delete = true});
    auto q = ch.queue_declare("", {.exclusive = true});
    EXPECT_EQ(q.message_count, 0u);
    ch.queue_bind(q.name, ex, "rk");
    auto c = ch.basic_consume(q.name);
    EXPECT_FALSE(c.tag.empty());
    constexpr int kN = 200;
    for (int i = 0; i < kN; i++) {
      amqp::BasicProperties p;
      p.content_type = "text/plain";
      p.correlation_id = "corr-" + std::to_string(i);
      p.headers = amqp::FieldTable{{"i", static_cast<std::int32_t>(i)}, {"s", "x"}};
      p.delivery_mode = 2;
      ch.basic_publish(ex, "rk", "message " + std::to_string(i), p);
    }
    ch.basic_publish(ex, "other-key", "not routed here");
    for (int i = 0; i < kN; i++) {
      auto d = receive(c.deliveries);
      ASSERT_TRUE(d);
      EXPECT_EQ(d->body, "message " + std::to_string(i));
      EXPECT_EQ(d->exchange, ex);
      EXPECT_EQ(d->routing_key, "rk");
      EXPECT_EQ(d->consumer_tag, c.tag);
      EXPECT_FALSE(d->redelivered);
      EXPECT_EQ(d->properties.content_type, "text/plain");
      EXPECT_EQ(d->properties.correlation_id, "corr-" + std::to_string(i));
      ASSERT_TRUE(d->properties.headers);
      std::int64_t hi = -1;
      ASSERT_TRUE(d->properties.headers->find("i"));
      EXPECT_TRUE(d->properties.headers->find("i")->as_int(&hi));
      EXPECT_EQ(hi, i);
      EXPECT_EQ(d->properties.delivery_mode, 2);
      d->ack();
    }
    ch.basic_cancel(c.tag);
    EXPECT_FALSE(receive(c.deliveries));  // closed after cancel-ok
    ch.queue_unbind(q.name, ex, "rk");
    EXPECT_EQ(ch.queue_delete(q.name), 0u);
    ch.exchange_delete(ex);
  });
}

TEST_P(AmqpClientTest, ConsumersOnManyChannelsFromManyFibers) {
  // Several fibers publish and consume at once over one connection: the writer fiber
  // interleaves their commands, the reader dispatches to every channel.
  amqp_run([&] {
    auto conn = connect();
    constexpr int kFibers = 4, kN = 100;
    weft::WaitGroup wg;
    std::atomic<int> received{0};
    for (int f = 0; f < kFibers; f++) {
      wg.add(1);
      weft::go([&, f, wg]() mutable {
        try {
          auto ch = conn.channel();
          auto q = ch.queue_declare("", {.exclusive = true});
          auto c = ch.basic_consume(q.name, {.no_ack = true});
          for (int i = 0; i < kN; i++)
            ch.basic_publish("", q.name, std::to_string(f) + ":" + std::to_string(i));
          for (int i = 0; i < kN; i++) {
            auto d = receive(c.deliveries);
            if (!d) break;
            EXPECT_EQ(d->body, std::to_string(f) + ":" + std::to_string(i));
            received++;
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(received.load(), kFibers * kN);
  });
}

TEST_P(AmqpClientTest, BasicGet) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    EXPECT_FALSE(ch.basic_get(q.name));
    ch.basic_publish("", q.name, "one");
    ch.basic_publish("", q.name, "two");
    ch.confirm_select();  // a confirmed publish is enqueued: the gets below see all three
    ch.basic_publish("", q.name, "three");
    ASSERT_TRUE(ch.wait_for_confirms());
    auto d = ch.basic_get(q.name);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "one");
    EXPECT_EQ(d->message_count, 2u);
    EXPECT_TRUE(d->consumer_tag.empty());
    EXPECT_EQ(d->routing_key, q.name);
    ch.basic_ack(d->delivery_tag);
    d = ch.basic_get(q.name, /*no_ack=*/true);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "two");
    EXPECT_EQ(d->message_count, 1u);
    EXPECT_EQ(ch.queue_purge(q.name), 1u);
    EXPECT_FALSE(ch.basic_get(q.name));
  });
}

TEST_P(AmqpClientTest, AckNackRejectAndRequeue) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    auto c = ch.basic_consume(q.name);
    ch.basic_publish("", q.name, "m");
    auto d = receive(c.deliveries);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->redelivered);
    d->nack(false, /*requeue=*/true);
    d = receive(c.deliveries);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "m");
    EXPECT_TRUE(d->redelivered);
    d->reject(/*requeue=*/true);
    d = receive(c.deliveries);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->redelivered);
    ch.basic_reject(d->delivery_tag, /*requeue=*/false);  // dropped for good
    ch.basic_publish("", q.name, "a");
    ch.basic_publish("", q.name, "b");
    auto a = receive(c.deliveries), b = receive(c.deliveries);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->body, "a");
    EXPECT_EQ(b->body, "b");
    ch.basic_nack(b->delivery_tag, /*multiple=*/true, /*requeue=*/true);  // both back
    a = receive(c.deliveries);
    b = receive(c.deliveries);
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->redelivered && b->redelivered);
    b->ack(/*multiple=*/true);
    ch.basic_cancel(c.tag);
    EXPECT_FALSE(receive(c.deliveries));
    auto info = ch.queue_declare(q.name, {.passive = true});
    EXPECT_EQ(info.message_count, 0u);  // "m" was rejected without requeue; a, b acked
  });
}

TEST_P(AmqpClientTest, QosPrefetchLimitsUnackedDeliveries) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    ch.confirm_select();
    for (int i = 0; i < 10; i++) ch.basic_publish("", q.name, std::to_string(i));
    ASSERT_TRUE(ch.wait_for_confirms());
    ch.basic_qos(3);
    auto c = ch.basic_consume(q.name);
    std::vector<amqp::Delivery> held;
    for (int i = 0; i < 3; i++) {
      auto d = receive(c.deliveries);
      ASSERT_TRUE(d);
      held.push_back(std::move(*d));
    }
    // Three unacked: the server holds the other seven back (ready, not unacked).
    EXPECT_EQ(ch.queue_declare(q.name, {.passive = true}).message_count, 7u);
    held.front().ack();
    auto d = receive(c.deliveries);  // one ack, one more delivery
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "3");
    EXPECT_EQ(ch.queue_declare(q.name, {.passive = true}).message_count, 6u);
    d->ack(/*multiple=*/true);
    for (int i = 4; i < 10; i++) {
      d = receive(c.deliveries);
      ASSERT_TRUE(d);
      EXPECT_EQ(d->body, std::to_string(i));
      d->ack();
    }
  });
}

TEST_P(AmqpClientTest, MandatoryPublishToNowhereIsReturned) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto returns = ch.returns();
    EXPECT_TRUE(returns == ch.returns());
    const std::string nowhere = name("weft.nowhere");
    ch.basic_publish("", nowhere, "dropped silently");  // not mandatory: no return
    amqp::BasicProperties p;
    p.message_id = "id-1";
    ch.basic_publish("", nowhere, "comes back", p, /*mandatory=*/true);
    auto r = receive(returns);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->reply_code, 312);
    EXPECT_EQ(r->reply_text, "NO_ROUTE");
    EXPECT_EQ(r->exchange, "");
    EXPECT_EQ(r->routing_key, nowhere);
    EXPECT_EQ(r->body, "comes back");
    EXPECT_EQ(r->properties.message_id, "id-1");
    ch.close();
    EXPECT_FALSE(receive(returns));  // closed with the channel
  });
}

TEST_P(AmqpClientTest, PublisherConfirms) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    EXPECT_EQ(ch.next_publish_seq_no(), 0u);
    ch.confirm_select();
    EXPECT_EQ(ch.next_publish_seq_no(), 1u);
    for (std::uint64_t i = 1; i <= 50; i++) EXPECT_EQ(ch.basic_publish("", q.name, "x"), i);
    EXPECT_TRUE(ch.wait_for_confirms());
    EXPECT_EQ(ch.next_publish_seq_no(), 51u);
    EXPECT_EQ(ch.queue_declare(q.name, {.passive = true}).message_count, 50u);
    EXPECT_TRUE(ch.wait_for_confirms());  // nothing outstanding

    // Publishers in several fibers share the numbering; every one is confirmed.
    weft::WaitGroup wg;
    for (int f = 0; f < 4; f++) {
      wg.add(1);
      weft::go([&, wg]() mutable {
        try {
          for (int i = 0; i < 25; i++) ch.basic_publish("", q.name, "y");
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_TRUE(ch.wait_for_confirms());
    EXPECT_EQ(ch.next_publish_seq_no(), 151u);
  });
}

TEST_P(AmqpClientTest, PublisherConfirmsNackTheOverflowOfAFullQueue) {
  if (kBroker == Broker::weftd)
    GTEST_SKIP() << "weftd does not implement the x-max-length and x-overflow queue arguments yet";
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    ch.confirm_select();
    // A queue that refuses publishes when full: the overflow is nacked.
    auto full = ch.queue_declare(
        "", {.exclusive = true,
             .arguments = {{"x-max-length", std::int32_t(1)}, {"x-overflow", "reject-publish"}}});
    ch.basic_publish("", full.name, "fits");
    ch.basic_publish("", full.name, "refused");
    EXPECT_FALSE(ch.wait_for_confirms());
    ch.basic_publish("", full.name, "refused again");
    EXPECT_FALSE(ch.wait_for_confirms());
    EXPECT_TRUE(ch.wait_for_confirms());  // the nack was reported once
  });
}

TEST_P(AmqpClientTest, TransactionsCommitAndRollBack) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto q = ch.queue_declare("", {.exclusive = true});
    ch.tx_select();
    for (int i = 0; i < 3; i++) ch.basic_publish("", q.name, "rolled back");
    ch.tx_rollback();
    EXPECT_EQ(ch.queue_declare(q.name, {.passive = true}).message_count, 0u);
    ch.basic_publish("", q.name, "committed 1");
    ch.basic_publish("", q.name, "committed 2");
    ch.tx_commit();
    EXPECT_EQ(ch.queue_declare(q.name, {.passive = true}).message_count, 2u);
    // Acks are transactional too.
    auto d = ch.basic_get(q.name);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "committed 1");
    d->ack();
    ch.tx_rollback();  // the ack is undone: the message stays unacked until we close
    ch.basic_ack(d->delivery_tag);
    ch.tx_commit();
    EXPECT_EQ(ch.queue_declare(q.name, {.passive = true}).message_count, 1u);
  });
}

TEST_P(AmqpClientTest, ExchangeToExchangeBinding) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    const std::string src = name("weft.e2e.src"), dst = name("weft.e2e.dst");
    // Not auto-delete: src would go with its last binding, at the unbind below.
    ch.exchange_declare(src, "fanout");
    ch.exchange_declare(dst, "direct");
    auto q = ch.queue_declare("", {.exclusive = true});
    ch.queue_bind(q.name, dst, "k");
    ch.exchange_bind(dst, src, "");
    auto returns = ch.returns();
    auto c = ch.basic_consume(q.name, {.no_ack = true});
    ch.basic_publish(src, "k", "via two exchanges", {}, /*mandatory=*/true);
    auto d = receive(c.deliveries);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "via two exchanges");
    EXPECT_EQ(d->exchange, src);
    ch.exchange_unbind(dst, src, "");
    ch.basic_publish(src, "k", "nowhere now", {}, /*mandatory=*/true);
    auto r = receive(returns);
    ASSERT_TRUE(r) << (ch.error() ? ch.error()->what() : "");
    EXPECT_EQ(r->reply_code, 312);
    EXPECT_EQ(r->body, "nowhere now");
    ch.exchange_delete(src);
    ch.exchange_delete(dst);
  });
}

// ---- errors ------------------------------------------------------------------------

TEST_P(AmqpClientTest, SoftErrorClosesOnlyTheChannel) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto bystander = conn.channel();
    auto q = bystander.queue_declare("", {.exclusive = true});
    auto c = ch.basic_consume(q.name);  // closed with ch below
    auto e = expect_error([&] { ch.queue_declare(name("weft.missing"), {.passive = true}); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 404);
    EXPECT_FALSE(e->connection_error());
    EXPECT_NE(e->text().find("NOT_FOUND"), std::string::npos) << e->text();
    EXPECT_EQ(e->class_id(), 50);  // queue.declare
    EXPECT_EQ(e->method_id(), 10);
    EXPECT_FALSE(ch.is_open());
    ASSERT_TRUE(ch.error());
    EXPECT_EQ(ch.error()->code(), 404);
    EXPECT_FALSE(receive(c.deliveries));
    // Later calls on the channel throw the server's reason again.
    auto again = expect_error([&] { ch.basic_publish("", q.name, "x"); });
    ASSERT_TRUE(again);
    EXPECT_EQ(again->code(), 404);
    again = expect_error([&] { ch.queue_declare("", {}); });
    ASSERT_TRUE(again);
    EXPECT_EQ(again->code(), 404);
    // The connection and its other channels go on.
    EXPECT_TRUE(conn.is_open());
    bystander.basic_publish("", q.name, "still here");
    auto fresh = conn.channel();
    auto d = fresh.basic_get(q.name, true);
    while (!d) d = fresh.basic_get(q.name, true);
    EXPECT_EQ(d->body, "still here");
    // A publish to a missing exchange fails asynchronously: the channel closes, and the
    // next synchronous call reports it.
    fresh.basic_publish(name("weft.no-such-exchange"), "k", "x");
    e = expect_error([&] { fresh.queue_declare("", {.exclusive = true}); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 404);
    EXPECT_TRUE(conn.is_open());
  });
}

TEST_P(AmqpClientTest, HardErrorClosesTheConnection) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto other = conn.channel();
    auto q = other.queue_declare("", {.exclusive = true});
    auto c = other.basic_consume(q.name);
    auto e = expect_error([&] { ch.exchange_declare(name("weft.bad"), "no-such-type"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 503);  // COMMAND_INVALID: a connection error
    EXPECT_TRUE(e->connection_error());
    conn.done().recv();  // closed once the connection has shut down
    EXPECT_FALSE(conn.is_open());
    ASSERT_TRUE(conn.error());
    EXPECT_EQ(conn.error()->code(), 503);
    EXPECT_FALSE(receive(c.deliveries));  // every channel failed with it
    auto again = expect_error([&] { other.queue_declare("", {}); });
    ASSERT_TRUE(again);
    EXPECT_EQ(again->code(), 503);
    EXPECT_TRUE(again->connection_error());
    again = expect_error([&] { conn.channel(); });
    ASSERT_TRUE(again);
    EXPECT_EQ(again->code(), 503);
  });
}

TEST_P(AmqpClientTest, ServerCancelsAConsumerWhoseQueueIsDeleted) {
  amqp_run([&] {
    auto conn = connect();
    auto ch = conn.channel();
    auto admin = conn.channel();
    auto q = ch.queue_declare(name("weft.doomed"), {.auto_delete = false});
    auto c = ch.basic_consume(q.name, {.no_ack = true});
    admin.basic_publish("", q.name, "last words");
    auto d = receive(c.deliveries);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->body, "last words");
    admin.queue_delete(q.name);
    EXPECT_FALSE(receive(c.deliveries));  // basic.cancel from the server closed it
    EXPECT_TRUE(ch.is_open());
    ch.queue_declare("", {.exclusive = true});
  });
}

TEST_P(AmqpClientTest, ClosingTheConnectionEndsEverything) {
  // Closing with consumers whose deliveries nobody reads, a pending returns channel,
  // and open channels: close() waits for every fiber of the connection (the fixture
  // checks that none is left).
  amqp_run([&] {
    auto conn = connect();
    std::vector<amqp::Channel> chans;
    std::vector<amqp::Consumer> consumers;
    for (int i = 0; i < 5; i++) {
      chans.push_back(conn.channel());
      auto q = chans.back().queue_declare("", {.exclusive = true});
      consumers.push_back(chans.back().basic_consume(q.name));
      for (int j = 0; j < 20; j++) chans.back().basic_publish("", q.name, "unread");
      chans.back().returns();
    }
    auto first = receive(consumers[0].deliveries);  // at least one arrived
    ASSERT_TRUE(first);
    conn.close();
    EXPECT_FALSE(conn.error());
    for (auto& c : consumers) {
      while (receive(c.deliveries)) {
      }  // drained and closed
    }
    for (auto& ch : chans) {
      EXPECT_FALSE(ch.is_open());
      auto e = expect_error([&] { ch.queue_declare("", {}); });
      ASSERT_TRUE(e);
      EXPECT_EQ(e->code(), 504);
    }
  });
}
