// client_fake_server_test.cpp: weft::amqp's client against a scripted server
// (fake_server.h), for what a real broker will not do -- a connection that vanishes, a
// server that goes silent, a malformed frame, a forced close -- and its URI parsing.
// It needs no broker (ctest: amqp_client_fake_server_test, label amqp). Every test
// body runs inside weft::run, once with 1 and once with 4 processors; no test asserts
// on timing.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "client_fixture.h"
#include "fake_server.h"
#include "weft/amqp/client.h"
#include "weft/net.h"

using namespace std::chrono_literals;
using namespace weft_test;
namespace amqp = weft::amqp;
namespace net = weft::net;

namespace {

class AmqpClientFakeServerTest : public AmqpFixture {};

INSTANTIATE_TEST_SUITE_P(Procs, AmqpClientFakeServerTest, ::testing::Values(1, 4),
                         [](const auto& info) { return std::to_string(info.param) + "procs"; });

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
