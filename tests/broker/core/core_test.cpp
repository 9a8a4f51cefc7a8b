// core_test.cpp: broker/core and broker/store without sockets -- routing through each
// exchange type, headers matching, a queue's dispatch order, credit, requeue and
// settlement, and the memory store's paging -- in-process, on the real classes.
//
// Each body runs inside weft::run (core's locks are weft's), once per processor count.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../../runtime/weft_test.h"
#include "core/exchange.h"
#include "core/headers_exchange.h"
#include "core/queue.h"
#include "core/vhost.h"
#include "metrics/metrics.h"
#include "store/memory_store.h"

namespace weftd {
namespace {

namespace amqp = weft::amqp;

MessagePtr message(const std::string& key, const std::string& body = "x",
                   std::optional<amqp::FieldTable> headers = std::nullopt) {
  auto m = std::make_shared<Message>();
  m->routing_key = key;
  m->body = body;
  if (headers) {
    amqp::BasicProperties p;
    p.headers = std::move(*headers);
    m->set_properties(p);
  }
  return m;
}

// A world of one vhost on the memory store (no paging unless asked).
struct World {
  explicit World(std::uint64_t window = 0, std::string dir = "/tmp")
      : stores(PagingSettings{window, std::move(dir)}, registry), vhost("/", stores, registry) {}
  QueuePtr queue(const std::string& name) {
    bool created;
    return vhost.declare_queue(name, QueueOptions{}, &created);
  }
  ExchangePtr exchange(const std::string& name, ExchangeType t) {
    bool created;
    return vhost.declare_exchange(name, t, ExchangeOptions{}, &created);
  }
  // routed(): the names of the queues a message with `key` published to e reaches.
  std::vector<std::string> routed(const ExchangePtr& e, const MessagePtr& m) {
    std::vector<QueuePtr> qs;
    vhost.route(e, *m, &qs);
    std::vector<std::string> names;
    for (auto& q : qs) names.push_back(q->name());
    std::sort(names.begin(), names.end());
    return names;
  }
  metrics::Registry registry;
  MemoryStoreFactory stores;
  VHost vhost;
};

using Names = std::vector<std::string>;

class CoreTest : public WeftTest {};
WEFT_INSTANTIATE(CoreTest);

TEST_P(CoreTest, TopicTrieMatchesStarAndHash) {
  run([] {
    World w;
    ExchangePtr t = w.exchange("t", ExchangeType::topic);
    const std::pair<const char*, const char*> binds[] = {
        {"q1", "a.*.c"}, {"q2", "a.#"}, {"q3", "#"}, {"q4", "*.b.*"},
        {"q5", "a.b.c"}, {"q6", "#.c"}, {"q7", "*"}, {"q8", "a.#.c"}};
    for (auto [q, key] : binds)
      ASSERT_TRUE(w.vhost.bind(t, Destination{w.queue(q), nullptr}, key, {}));
    EXPECT_EQ(w.routed(t, message("a.b.c")), (Names{"q1", "q2", "q3", "q4", "q5", "q6", "q8"}));
    EXPECT_EQ(w.routed(t, message("a.b")), (Names{"q2", "q3"}));
    EXPECT_EQ(w.routed(t, message("a")), (Names{"q2", "q3", "q7"}));
    EXPECT_EQ(w.routed(t, message("c")), (Names{"q3", "q6", "q7"}));
    EXPECT_EQ(w.routed(t, message("a.x.y.c")), (Names{"q2", "q3", "q6", "q8"}));
    EXPECT_EQ(w.routed(t, message("x.b.y")), (Names{"q3", "q4"}));
    EXPECT_EQ(w.routed(t, message("")), (Names{"q3", "q7"}));
    // An unbind takes exactly that binding away.
    ASSERT_TRUE(w.vhost.unbind(t, Destination{w.vhost.find_queue("q2"), nullptr}, "a.#", {}));
    EXPECT_EQ(w.routed(t, message("a.b")), (Names{"q3"}));
    EXPECT_FALSE(w.vhost.unbind(t, Destination{w.vhost.find_queue("q2"), nullptr}, "a.#", {}));
  });
}

TEST_P(CoreTest, DirectAndFanoutRouteToEveryBinding) {
  run([] {
    World w;
    ExchangePtr d = w.exchange("d", ExchangeType::direct);
    ExchangePtr f = w.exchange("f", ExchangeType::fanout);
    for (const char* q : {"a", "b", "c"}) {
      ASSERT_TRUE(w.vhost.bind(d, Destination{w.queue(q), nullptr}, q[0] == 'c' ? "k2" : "k", {}));
      ASSERT_TRUE(w.vhost.bind(f, Destination{w.vhost.find_queue(q), nullptr}, "ignored", {}));
    }
    EXPECT_EQ(w.routed(d, message("k")), (Names{"a", "b"}));
    EXPECT_EQ(w.routed(d, message("k2")), (Names{"c"}));
    EXPECT_EQ(w.routed(d, message("none")), Names{});
    EXPECT_EQ(w.routed(f, message("anything")), (Names{"a", "b", "c"}));
    // The default exchange routes by queue name; binding twice is one binding.
    EXPECT_EQ(w.routed(w.vhost.find_exchange(""), message("b")), (Names{"b"}));
    w.vhost.bind(d, Destination{w.vhost.find_queue("a"), nullptr}, "k", {});
    EXPECT_EQ(d->binding_count(), 3u);
    // A deleted queue leaves every exchange that bound it.
    w.vhost.delete_queue(w.vhost.find_queue("a"));
    EXPECT_EQ(w.routed(d, message("k")), (Names{"b"}));
    EXPECT_EQ(w.routed(f, message("x")), (Names{"b", "c"}));
  });
}

TEST_P(CoreTest, ExchangeToExchangeAndAlternateExchange) {
  run([] {
    World w;
    ExchangeOptions with_ae;
    with_ae.arguments = amqp::FieldTable{{"alternate-exchange", std::string("ae")}};
    bool created;
    ExchangePtr src = w.vhost.declare_exchange("src", ExchangeType::direct, with_ae, &created);
    ExchangePtr mid = w.exchange("mid", ExchangeType::fanout);
    ExchangePtr ae = w.exchange("ae", ExchangeType::fanout);
    ASSERT_TRUE(w.vhost.bind(src, Destination{nullptr, mid}, "k", {}));
    ASSERT_TRUE(w.vhost.bind(mid, Destination{w.queue("via-mid"), nullptr}, "", {}));
    ASSERT_TRUE(w.vhost.bind(mid, Destination{nullptr, src}, "", {}));  // a cycle: once each
    ASSERT_TRUE(w.vhost.bind(ae, Destination{w.queue("unrouted"), nullptr}, "", {}));
    EXPECT_EQ(w.routed(src, message("k")), (Names{"via-mid"}));
    EXPECT_EQ(w.routed(src, message("other")), (Names{"unrouted"}));
  });
}

TEST(HeadersExchange, MatchesAllAnyAndTheXForms) {
  using amqp::FieldTable;
  const FieldTable headers{{"a", std::string("1")}, {"b", std::int32_t{2}}, {"x-h", true}};
  auto m = [&](FieldTable args) { return HeadersExchange::matches(args, &headers); };
  EXPECT_TRUE(m({{"a", std::string("1")}, {"b", std::int32_t{2}}}));  // all (default)
  EXPECT_FALSE(m({{"a", std::string("1")}, {"b", std::int32_t{3}}}));
  EXPECT_TRUE(
      m({{"x-match", std::string("any")}, {"a", std::string("no")}, {"b", std::int32_t{2}}}));
  EXPECT_FALSE(m({{"x-match", std::string("any")}, {"a", std::string("no")}}));
  EXPECT_TRUE(m({{"a", amqp::Void{}}}));  // void: presence alone
  EXPECT_FALSE(m({{"c", amqp::Void{}}}));
  // x- arguments are compared only in the -with-x forms.
  EXPECT_TRUE(m({{"x-h", false}}));
  EXPECT_FALSE(m({{"x-match", std::string("all-with-x")}, {"x-h", false}}));
  EXPECT_TRUE(m({{"x-match", std::string("any-with-x")}, {"x-h", true}}));
  EXPECT_TRUE(m({}));  // all of nothing
  EXPECT_FALSE(HeadersExchange::matches({{"a", std::string("1")}}, nullptr));
  EXPECT_FALSE(HeadersExchange::matches({{"x-match", std::string("any")}}, nullptr));
}

TEST_P(CoreTest, HeadersExchangeRoutesOnTheMessagesHeaders) {
  run([] {
    World w;
    ExchangePtr h = w.exchange("h", ExchangeType::headers);
    ASSERT_TRUE(w.vhost.bind(h, Destination{w.queue("fmt-pdf"), nullptr}, "",
                             {{"format", std::string("pdf")}}));
    ASSERT_TRUE(w.vhost.bind(h, Destination{w.queue("any"), nullptr}, "",
                             {{"x-match", std::string("any")},
                              {"format", std::string("zip")},
                              {"type", std::string("report")}}));
    EXPECT_EQ(w.routed(h, message("", "b",
                                  amqp::FieldTable{{"format", std::string("pdf")},
                                                   {"type", std::string("report")}})),
              (Names{"any", "fmt-pdf"}));
    EXPECT_EQ(w.routed(h, message("", "b", amqp::FieldTable{{"format", std::string("zip")}})),
              (Names{"any"}));
    EXPECT_EQ(w.routed(h, message("")), Names{});
  });
}

// A consumer that takes up to `credit` messages and records them.
struct FakeConsumer : QueueConsumer {
  explicit FakeConsumer(std::string name, int credit) : name(std::move(name)), credit(credit) {}
  bool has_credit() override { return credit > 0; }
  void deliver(Queue&, QueuedMessage m) override {
    credit--;
    got.push_back(m.message->body + (m.redelivered ? "*" : ""));
    held.push_back(std::move(m));
  }
  void cancelled_by_server() override { cancelled = true; }
  std::string name;
  int credit;
  std::vector<std::string> got;
  std::vector<QueuedMessage> held;
  bool cancelled = false;
};

TEST_P(CoreTest, DispatchIsRoundRobinAmongConsumersWithCredit) {
  run([] {
    World w;
    QueuePtr q = w.queue("q");
    auto a = std::make_shared<FakeConsumer>("a", 2);
    auto b = std::make_shared<FakeConsumer>("b", 100);
    auto c = std::make_shared<FakeConsumer>("c", 0);  // no credit: skipped
    ASSERT_TRUE(q->add_consumer(a, false));
    ASSERT_TRUE(q->add_consumer(b, false));
    ASSERT_TRUE(q->add_consumer(c, false));
    for (int i = 0; i < 6; i++) q->enqueue(message("q", std::to_string(i)));
    EXPECT_EQ(a->got, (std::vector<std::string>{"0", "2"}));
    EXPECT_EQ(b->got, (std::vector<std::string>{"1", "3", "4", "5"}));
    EXPECT_TRUE(c->got.empty());
    EXPECT_EQ(q->message_count(), 0u);
    // An exclusive consumer is refused while others are there, and excludes others.
    EXPECT_FALSE(q->add_consumer(std::make_shared<FakeConsumer>("x", 1), true));
    // Deleting the queue tells every consumer.
    w.vhost.delete_queue(q);
    EXPECT_TRUE(a->cancelled && b->cancelled && c->cancelled);
    EXPECT_TRUE(q->deleted());
  });
}

TEST_P(CoreTest, RequeueGoesBackToTheHeadInOrderAndRedelivered) {
  run([] {
    World w;
    QueuePtr q = w.queue("q");
    for (int i = 0; i < 4; i++) q->enqueue(message("q", std::to_string(i)));
    std::size_t left = 0;
    auto m0 = q->get(&left), m1 = q->get(&left);
    ASSERT_TRUE(m0 && m1);
    EXPECT_EQ(left, 2u);
    EXPECT_EQ(m0->message->body, "0");
    EXPECT_FALSE(m0->redelivered);
    q->requeue({std::move(*m0), std::move(*m1)});
    auto c = std::make_shared<FakeConsumer>("c", 10);
    ASSERT_TRUE(q->add_consumer(c, false));
    EXPECT_EQ(c->got, (std::vector<std::string>{"0*", "1*", "2", "3"}));
    // Settling for good counts acks, and frees nothing to redeliver.
    q->settle(std::move(c->held), true);
    EXPECT_EQ(q->message_count(), 0u);
    auto snap = w.registry.snapshot();
    ASSERT_EQ(snap.queues.size(), 1u);
    EXPECT_EQ(snap.queues[0].published, 4u);
    EXPECT_EQ(snap.queues[0].delivered, 6u);  // two gets, four deliveries
    EXPECT_EQ(snap.queues[0].redelivered, 2u);
    EXPECT_EQ(snap.queues[0].acked, 4u);
    EXPECT_EQ(snap.queues[0].ready, 0);
    EXPECT_EQ(snap.queues[0].consumers, 1);
  });
}

TEST(MetricsRegistry, SnapshotsListTheLiveBlocksEveryTime) {
  metrics::Registry r;
  auto a = r.add_queue("/", "a");
  auto b = r.add_queue("/", "b");
  auto c = r.add_channel(7, 1);
  a->published.add(3);
  for (int i = 0; i < 3; i++) {  // a snapshot must not consume what it reads
    auto s = r.snapshot();
    ASSERT_EQ(s.queues.size(), 2u) << "snapshot " << i;
    EXPECT_EQ(s.queues[0].published, 3u);
    ASSERT_EQ(s.channels.size(), 1u);
    EXPECT_EQ(s.channels[0].connection, 7u);
  }
  a.reset();
  c.reset();
  auto s = r.snapshot();
  ASSERT_EQ(s.queues.size(), 1u);
  EXPECT_EQ(s.queues[0].name, "b");
  EXPECT_TRUE(s.channels.empty());
}

TEST_P(CoreTest, MessageBytesFollowLiveMessages) {
  run([] {
    World w;
    QueuePtr q = w.queue("q");
    auto m = std::make_shared<Message>();
    m->body = std::string(1000, 'b');
    m->account(w.registry.message_bytes);
    const auto size = static_cast<std::int64_t>(m->size());
    q->enqueue(std::move(m));
    EXPECT_EQ(w.registry.message_bytes.load(), size);
    q->purge();
    EXPECT_EQ(w.registry.message_bytes.load(), 0);
  });
}

std::string temp_dir() {
  std::string d = (std::filesystem::temp_directory_path() / "weftd-core-test-XXXXXX").string();
  return ::mkdtemp(d.data()) ? d : "/tmp";
}

TEST_P(CoreTest, PagingKeepsOrderAndGivesEverythingBack) {
  run([] {
    const std::string dir = temp_dir();
    {
      World w(4096, dir);  // a window of ~4 messages of 1 KiB
      QueuePtr q = w.queue("q");
      for (int i = 0; i < 200; i++)
        q->enqueue(message("q", std::to_string(i) + std::string(1000, '.')));
      auto s = w.registry.snapshot();
      EXPECT_GT(s.paged_messages, 150);
      EXPECT_GT(s.paged_bytes, 150 * 1000);
      EXPECT_EQ(s.paged_total, s.paged_messages);
      std::size_t left = 0;
      for (int i = 0; i < 100; i++) {
        auto m = q->get(&left);
        ASSERT_TRUE(m);
        EXPECT_EQ(m->message->body, std::to_string(i) + std::string(1000, '.'));
        if (i == 50) {  // back at the head (in memory), and got again, redelivered
          q->requeue({std::move(*m)});
          auto again = q->get(&left);
          ASSERT_TRUE(again && again->redelivered);
          EXPECT_EQ(again->message->body, std::to_string(i) + std::string(1000, '.'));
        }
      }
      auto c = std::make_shared<FakeConsumer>("c", 1000);
      ASSERT_TRUE(q->add_consumer(c, false));
      ASSERT_EQ(c->got.size(), 100u);
      for (int i = 0; i < 100; i++)
        EXPECT_EQ(c->got[i], std::to_string(100 + i) + std::string(1000, '.'));
      s = w.registry.snapshot();
      EXPECT_EQ(s.paged_messages, 0);
      EXPECT_EQ(s.paged_bytes, 0);
      // Paged messages purged or left at deletion give their counts back too.
      w.vhost.delete_queue(q);
      QueuePtr p = w.queue("p");
      for (int i = 0; i < 50; i++) p->enqueue(message("p", std::string(1000, 'p')));
      EXPECT_GT(w.registry.snapshot().paged_messages, 0);
      EXPECT_EQ(p->purge(), 50u);
      s = w.registry.snapshot();
      EXPECT_EQ(s.paged_messages, 0);
      EXPECT_EQ(s.paged_bytes, 0);
    }
    std::filesystem::remove_all(dir);
  });
}

TEST_P(CoreTest, AStoreThatCannotWriteKeepsMessagesInMemory) {
  run([] {
    World w(1024, "/nonexistent/weftd-page-dir");
    QueuePtr q = w.queue("q");
    for (int i = 0; i < 20; i++)
      q->enqueue(message("q", std::to_string(i) + std::string(500, '.')));
    EXPECT_EQ(w.registry.snapshot().paged_messages, 0);
    std::size_t left = 0;
    for (int i = 0; i < 20; i++) {
      auto m = q->get(&left);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->message->body.substr(0, std::to_string(i).size()), std::to_string(i));
    }
  });
}

}  // namespace
}  // namespace weftd
