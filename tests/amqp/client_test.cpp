// client_test.cpp: weft::amqp's client (amqp/src/client*.cpp) against a real RabbitMQ.
//
// The binary boots one private rabbitmq-server for all its tests (RabbitBroker, a gtest
// Environment): free loopback ports for AMQP, Erlang distribution and epmd, its own
// mnesia/log/home directories under /tmp, no plugins, and it stops it at the end. Run it
// as one process (ctest does: a single test, label `rabbitmq`), not test by test.
//
// Without rabbitmq-server installed the tests fail (scripts/deps.sh test installs it);
// WEFT_SKIP_RABBITMQ=1 skips them. WEFT_RABBITMQ_SERVER names another server script.
// Every test body runs inside weft::run, once with 1 and once with 4 processors, and
// the fixture checks that no fiber of the client outlives its Connection. No test
// asserts on timing; waits for deliveries are bounded by a 30 s guard against hangs.
#include "weft/amqp/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "../runtime/weft_test.h"
#include "weft/net.h"
#include "weft/select.h"
#include "weft/time.h"

using namespace std::chrono_literals;
namespace amqp = weft::amqp;

namespace {

// ---- the broker --------------------------------------------------------------------

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

std::string tail_of(const std::string& path, std::size_t n = 3000) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > n ? s.substr(s.size() - n) : s;
}

class RabbitBroker : public ::testing::Environment {
 public:
  static inline bool skipped = false;
  static inline bool up = false;
  static inline int port = 0;
  static inline std::string why = "not started";

  void SetUp() override {
    const char* skip = std::getenv("WEFT_SKIP_RABBITMQ");
    if (skip && std::string(skip) == "1") {
      skipped = true;
      return;
    }
    const char* custom = std::getenv("WEFT_RABBITMQ_SERVER");
    const std::string server = custom ? custom : "/usr/lib/rabbitmq/bin/rabbitmq-server";
    if (::access(server.c_str(), X_OK) != 0) {
      why = server +
            " is not installed (scripts/deps.sh test installs rabbitmq-server; "
            "WEFT_SKIP_RABBITMQ=1 skips these tests)";
      FAIL() << why;
    }
    char tmpl[] = "/tmp/weft-rabbit-XXXXXX";
    if (!::mkdtemp(tmpl)) FAIL() << (why = "mkdtemp failed");
    dir_ = tmpl;
    for (auto sub : {"mnesia", "log", "home"}) std::filesystem::create_directory(dir_ + "/" + sub);
    std::ofstream(dir_ + "/enabled_plugins") << "[].\n";  // management and friends off
    port = free_port();
    const int dist = free_port(), epmd = free_port();
    epmd_port_ = epmd;
    if (port <= 0 || dist <= 0 || epmd <= 0) FAIL() << (why = "no free port");
    const std::string node = "weft-test-" + std::to_string(::getpid()) + "@localhost";
    log_ = dir_ + "/server.out";

    const auto t0 = std::chrono::steady_clock::now();
    pid_ = ::fork();
    if (pid_ < 0) FAIL() << (why = "fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own process group: TearDown signals the whole tree
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, 0);
      if (::chdir(dir_.c_str()) != 0) _exit(127);
      auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
      set("HOME", dir_ + "/home");  // the Erlang cookie goes there
      set("RABBITMQ_MNESIA_BASE", dir_ + "/mnesia");
      set("RABBITMQ_LOG_BASE", dir_ + "/log");
      set("RABBITMQ_NODENAME", node);
      set("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1");
      set("RABBITMQ_NODE_PORT", std::to_string(port));
      set("RABBITMQ_DIST_PORT", std::to_string(dist));
      set("ERL_EPMD_PORT", std::to_string(epmd));  // a private epmd, killed at the end
      set("RABBITMQ_ENABLED_PLUGINS_FILE", dir_ + "/enabled_plugins");
      set("RABBITMQ_CONF_ENV_FILE", dir_ + "/rabbitmq-env.conf");       // none: ignore /etc's
      set("RABBITMQ_CONFIG_FILE", dir_ + "/rabbitmq");                  // none
      set("RABBITMQ_ADVANCED_CONFIG_FILE", dir_ + "/advanced.config");  // none
      ::execl(server.c_str(), server.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::setpgid(pid_, pid_);  // also from here, whichever runs first
    const auto limit = t0 + 180s;
    while (!port_accepts(port)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        why = "rabbitmq-server exited during boot:\n" + tail_of(log_);
        FAIL() << why;
      }
      if (std::chrono::steady_clock::now() > limit) {
        why = "rabbitmq-server did not listen within 180 s:\n" + tail_of(log_);
        FAIL() << why;
      }
      std::this_thread::sleep_for(50ms);
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ rabbitmq ] %s listening on 127.0.0.1:%d after %.1f s (%s)\n", node.c_str(), port,
                secs, dir_.c_str());
    std::fflush(stdout);
    up = true;
  }

  void TearDown() override {
    if (pid_ > 0) {
      // SIGTERM to the group: the script asks the node to stop, the VM shuts down.
      ::kill(-pid_, SIGTERM);
      const auto limit = std::chrono::steady_clock::now() + 60s;
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < limit)
        std::this_thread::sleep_for(50ms);
      // Then whatever is left of the group (beam, if the script went first).
      while (::kill(-pid_, 0) == 0 && std::chrono::steady_clock::now() < limit)
        std::this_thread::sleep_for(50ms);
      if (::kill(-pid_, 0) == 0) ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, WNOHANG);
      pid_ = -1;
    }
    if (epmd_port_ > 0) {
      const std::string cmd = "epmd -port " + std::to_string(epmd_port_) + " -kill >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        // Already gone (it exits with no node registered on some versions).
      }
    }
    if (!dir_.empty() && !std::getenv("WEFT_KEEP_RABBITMQ_DIR")) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

 private:
  pid_t pid_ = -1;
  int epmd_port_ = 0;
  std::string dir_, log_;
};

[[maybe_unused]] auto* const g_broker = ::testing::AddGlobalTestEnvironment(new RabbitBroker);

// ---- the fixture -------------------------------------------------------------------

// AmqpFixture: WeftTest whose body may throw the client's exceptions.
class AmqpFixture : public WeftTest {
 protected:
  // amqp_run() runs body inside weft::run; an exception out of it fails the test.
  void amqp_run(std::function<void()> body) {
    run([&] {
      try {
        body();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "uncaught exception: " << e.what();
      }
    });
  }
};

class AmqpClientTest : public AmqpFixture {
 protected:
  void SetUp() override {
    if (RabbitBroker::skipped) GTEST_SKIP() << "WEFT_SKIP_RABBITMQ=1";
    ASSERT_TRUE(RabbitBroker::up) << RabbitBroker::why;
  }


  amqp::ConnectionOptions options() const {
    amqp::ConnectionOptions o;
    o.host = "127.0.0.1";
    o.port = static_cast<std::uint16_t>(RabbitBroker::port);
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

// receive() receives from ch, failing the test (not hanging) after a 30 s guard. The
// guard is a Timer stopped on the way out, not weft::after(): an armed timer still
// pending when run() returns is reported by LeakSanitizer.
template <class T>
std::optional<T> receive(const weft::Chan<T>& ch) {
  weft::Chan<bool> expired(1);
  auto guard = weft::Timer::after_func(30s, [expired] { expired.try_send(true); });
  std::optional<T> out;
  bool timed_out = false;
  weft::select(weft::on_recv(ch, [&](std::optional<T> v) { out = std::move(v); }),
               weft::on_recv(expired, [&](std::optional<bool>) { timed_out = true; }));
  guard.stop();
  if (timed_out) ADD_FAILURE() << "nothing received within the 30 s guard";
  return out;
}

// expect_error() runs fn and returns the AmqpError it throws (failing if none).
template <class F>
std::optional<amqp::AmqpError> expect_error(F&& fn) {
  try {
    fn();
  } catch (const amqp::AmqpError& e) {
    return e;
  }
  ADD_FAILURE() << "no AmqpError thrown";
  return std::nullopt;
}

std::string str(const amqp::FieldValue* v) {
  if (!v) return "<none>";
  if (auto* s = v->get<std::string>()) return *s;
  return "<not a string>";
}

}  // namespace

// ---- connections -------------------------------------------------------------------

TEST_P(AmqpClientTest, ConnectsWithPlain) {
  amqp_run([&] {
    auto o = options();
    o.mechanism = amqp::Mechanism::plain;
    o.connection_name = "weft client_test";
    auto conn = amqp::Connection::open(o);
    EXPECT_TRUE(conn.is_open());
    EXPECT_EQ(str(conn.server_properties().find("product")), "RabbitMQ");
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
    auto conn = amqp::Connection::open(
        "amqp://guest:guest@127.0.0.1:" + std::to_string(RabbitBroker::port) +
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

// ---- a scripted server, for what RabbitMQ will not do ------------------------------
//
// These tests play the server's side themselves over loopback (they need no broker):
// a connection that vanishes, a server that goes silent, a malformed frame, a forced
// close.

namespace {

namespace net = weft::net;

class AmqpClientFakeServerTest : public AmqpFixture {
 protected:
};

INSTANTIATE_TEST_SUITE_P(Procs, AmqpClientFakeServerTest, ::testing::Values(1, 4),
                         [](const auto& info) { return std::to_string(info.param) + "procs"; });

// ServerSide: one accepted connection, with frame-level helpers.
struct ServerSide {
  explicit ServerSide(net::Conn conn) : c(std::move(conn)) {}
  net::Conn c;
  amqp::FrameDecoder dec;
  amqp::FrameEncoder enc;
  int heartbeats_seen = 0;

  void send(std::uint16_t channel, const amqp::Method& m) {
    enc.method(channel, m);
    flush();
  }
  void flush() {
    (void)c.write(enc.buffer());
    enc.clear();
  }
  // next() returns the next method (channel in *channel), nullopt at EOF or error.
  std::optional<amqp::Method> next(std::uint16_t* channel = nullptr) {
    for (;;) {
      amqp::Frame f;
      amqp::ProtocolError pe;
      auto st = dec.next(&f, &pe);
      if (st == amqp::FrameDecoder::Status::error) return std::nullopt;
      if (st == amqp::FrameDecoder::Status::frame) {
        if (f.type == amqp::FrameType::heartbeat) {
          heartbeats_seen++;
          continue;
        }
        if (f.type != amqp::FrameType::method) continue;
        amqp::Reader r(f.payload);
        bool unknown = false;
        auto m = amqp::decode_method(r, &unknown);
        if (channel) *channel = f.channel;
        return m;
      }
      auto space = dec.prepare(4096);
      auto n = c.read(space.data(), space.size());
      if (!n) return std::nullopt;
      dec.commit(*n);
    }
  }
  template <class M>
  bool expect() {
    auto m = next();
    EXPECT_TRUE(m && std::holds_alternative<M>(*m)) << "expected " << M::kName;
    return m && std::holds_alternative<M>(*m);
  }
  // handshake() plays the server's part up to open-ok.
  bool handshake(std::uint16_t heartbeat) {
    char header[8];
    if (!c.read_full(header, sizeof header)) return false;
    EXPECT_EQ(std::string_view(header, 8), amqp::kProtocolHeader);
    send(0, amqp::ConnectionStart{0, 9, amqp::FieldTable{{"product", "fake"}}, "PLAIN AMQPLAIN",
                                  "en_US"});
    if (!expect<amqp::ConnectionStartOk>()) return false;
    send(0, amqp::ConnectionTune{2047, 131072, heartbeat});
    if (!expect<amqp::ConnectionTuneOk>() || !expect<amqp::ConnectionOpen>()) return false;
    send(0, amqp::ConnectionOpenOk{});
    return true;
  }
};

amqp::ConnectionOptions fake_options(const net::TcpListener& ln, std::uint16_t heartbeat = 0) {
  amqp::ConnectionOptions o;
  o.host = "127.0.0.1";
  o.port = ln.addr().port();
  o.heartbeat = std::chrono::seconds(heartbeat);
  return o;
}

}  // namespace

TEST_P(AmqpClientFakeServerTest, LostConnectionFailsEverythingWithCodeZero) {
  amqp_run([&] {
    auto ln = net::TcpListener::listen("127.0.0.1:0").value();
    go([&] {
      ServerSide s{ln.accept().value()};
      ASSERT_TRUE(s.handshake(0));
      std::uint16_t ch = 0;
      auto m = s.next(&ch);
      ASSERT_TRUE(m && std::holds_alternative<amqp::ChannelOpen>(*m));
      s.send(ch, amqp::ChannelOpenOk{});
      ASSERT_TRUE(s.expect<amqp::QueueDeclare>());
      (void)s.c.close();  // and never answer
    });
    auto conn = amqp::Connection::open(fake_options(ln));
    EXPECT_EQ(str(conn.server_properties().find("product")), "fake");
    auto ch = conn.channel();
    auto e = expect_error([&] { ch.queue_declare("q"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), 0);
    EXPECT_TRUE(e->connection_error());
    conn.done().recv();
    ASSERT_TRUE(conn.error());
    EXPECT_EQ(conn.error()->code(), 0);
    EXPECT_FALSE(ch.is_open());
    join();
  });
}

TEST_P(AmqpClientFakeServerTest, SilentServerIsDroppedAfterTwoHeartbeatIntervals) {
  amqp_run([&] {
    auto ln = net::TcpListener::listen("127.0.0.1:0").value();
    int heartbeats = 0;
    go([&] {
      ServerSide s{ln.accept().value()};
      ASSERT_TRUE(s.handshake(1));
      while (s.next()) {  // read (and count heartbeats) until the client hangs up
      }
      heartbeats = s.heartbeats_seen;
    });
    auto conn = amqp::Connection::open(fake_options(ln, 1));
    EXPECT_EQ(conn.heartbeat(), 1s);
    conn.done().recv();
    ASSERT_TRUE(conn.error());
    EXPECT_EQ(conn.error()->code(), 0);
    EXPECT_NE(conn.error()->text().find("missed heartbeats"), std::string::npos)
        << conn.error()->text();
    join();
    EXPECT_GE(heartbeats, 1);  // the client's own heartbeats reached the server
  });
}

TEST_P(AmqpClientFakeServerTest, MalformedFrameClosesTheConnectionWith501) {
  amqp_run([&] {
    auto ln = net::TcpListener::listen("127.0.0.1:0").value();
    std::optional<amqp::Method> reply;
    go([&] {
      ServerSide s{ln.accept().value()};
      ASSERT_TRUE(s.handshake(0));
      s.enc.method(0, amqp::ConnectionBlocked{"memory"});
      s.enc.buffer().back() = 'X';  // not the frame-end octet
      s.flush();
      reply = s.next();
    });
    auto conn = amqp::Connection::open(fake_options(ln));
    conn.done().recv();
    ASSERT_TRUE(conn.error());
    EXPECT_EQ(conn.error()->code(), 501);
    join();
    ASSERT_TRUE(reply);  // the client said why before hanging up
    auto* close = std::get_if<amqp::ConnectionClose>(&*reply);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->reply_code, 501);
  });
}

TEST_P(AmqpClientFakeServerTest, ServerCloseIsAnsweredWithCloseOk) {
  amqp_run([&] {
    auto ln = net::TcpListener::listen("127.0.0.1:0").value();
    bool got_close_ok = false;
    go([&] {
      ServerSide s{ln.accept().value()};
      ASSERT_TRUE(s.handshake(0));
      s.send(0, amqp::ConnectionBlocked{"low on memory"});
      s.send(0, amqp::ConnectionClose{320, "CONNECTION_FORCED - shutdown", 0, 0});
      got_close_ok = s.expect<amqp::ConnectionCloseOk>();
    });
    auto conn = amqp::Connection::open(fake_options(ln));
    conn.done().recv();
    EXPECT_TRUE(conn.blocked());
    ASSERT_TRUE(conn.error());
    EXPECT_EQ(conn.error()->code(), 320);
    EXPECT_EQ(conn.error()->text(), "CONNECTION_FORCED - shutdown");
    join();
    EXPECT_TRUE(got_close_ok);
  });
}

TEST(AmqpClientUri, Parses) {
  auto o = amqp::ConnectionOptions::parse_uri(
      "amqp://us%40er:p%3Ass@example.com:5673/my%2fvhost?heartbeat=5&frame_max=8192&"
      "channel_max=9&auth_mechanism=amqplain&connection_timeout=1500&locale=en_US");
  EXPECT_EQ(o.user, "us@er");
  EXPECT_EQ(o.password, "p:ss");
  EXPECT_EQ(o.host, "example.com");
  EXPECT_EQ(o.port, 5673);
  EXPECT_EQ(o.vhost, "my/vhost");
  EXPECT_EQ(o.heartbeat, 5s);
  EXPECT_EQ(o.frame_max, 8192u);
  EXPECT_EQ(o.channel_max, 9);
  EXPECT_EQ(o.mechanism, amqp::Mechanism::amqplain);
  EXPECT_EQ(o.connect_timeout, 1500ms);
  auto d = amqp::ConnectionOptions::parse_uri("amqp://[::1]");
  EXPECT_EQ(d.host, "::1");
  EXPECT_EQ(d.port, 5672);
  EXPECT_EQ(d.vhost, "/");
  EXPECT_EQ(d.user, "guest");
  EXPECT_EQ(amqp::ConnectionOptions::parse_uri("amqp://h/").vhost, "/");
  EXPECT_THROW(amqp::ConnectionOptions::parse_uri("http://h/"), std::invalid_argument);
  EXPECT_THROW(amqp::ConnectionOptions::parse_uri("amqp://h:notaport/"), std::invalid_argument);
  EXPECT_THROW(amqp::ConnectionOptions::parse_uri("amqp://h/%2"), std::invalid_argument);
}
