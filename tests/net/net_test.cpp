// net_test.cpp: the netpoller and sockets (netpoller/), over real loopback sockets.
// Every test runs once per processor count (weft_test.h). No test asserts on timing:
// deadlines are checked by what they cause (a timeout error, a woken fiber), never by
// how long it took.
#include "weft/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "../runtime/weft_test.h"
#include "weft/chan.h"
#include "weft/introspect.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

using namespace std::chrono_literals;
namespace net = weft::net;

namespace {

class NetTest : public WeftTest {};
WEFT_INSTANTIATE(NetTest);

// listen_local() listens on a free loopback port.
net::TcpListener listen_local() { return net::TcpListener::listen("127.0.0.1:0").value(); }

// echo_once() accepts one connection and echoes until eof.
void echo_until_eof(net::Conn& c) {
  char buf[4096];
  while (auto n = c.read(buf, sizeof buf))
    if (!c.write(buf, *n)) break;
}

}  // namespace

TEST_P(NetTest, EchoOverLoopback) {
  run([&] {
    auto ln = listen_local();
    EXPECT_EQ(ln.addr().host(), "127.0.0.1");
    EXPECT_NE(ln.addr().port(), 0);
    go([&] {
      auto c = ln.accept();
      ASSERT_TRUE(c) << c.error().message();
      EXPECT_EQ(c->remote_addr().host(), "127.0.0.1");
      echo_until_eof(*c);
    });
    auto c = net::dial_tcp(ln.addr().to_string()).value();
    EXPECT_EQ(c.remote_addr(), ln.addr());
    for (int i = 0; i < 100; i++) {
      std::string msg = "message " + std::to_string(i);
      ASSERT_TRUE(c.write(msg));
      std::string back(msg.size(), '\0');
      ASSERT_EQ(c.read_full(back.data(), back.size()).value(), msg.size());
      EXPECT_EQ(back, msg);
    }
    ASSERT_FALSE(c.shutdown_write());
    char b;
    auto r = c.read(&b, 1);
    EXPECT_EQ(r.error(), net::Error::eof);  // the server saw eof and returned
    join();
  });
}

TEST_P(NetTest, LargeTransfersParkOnAFullSocketBuffer) {
  // 8 MiB each way, far more than the socket buffers: both writers must park.
  run([&] {
    auto [a, b] = net::pipe();
    const std::size_t kSize = 8 << 20;
    std::string out(kSize, '\0');
    for (std::size_t i = 0; i < kSize; i++) out[i] = static_cast<char>(i * 7 + i / 4096);
    go([&, &b = b] {
      std::string in(kSize, '\0');
      ASSERT_TRUE(b.read_full(in.data(), in.size()));
      EXPECT_TRUE(in == out);
      ASSERT_TRUE(b.write(in));
    });
    ASSERT_TRUE(a.write(out));
    std::string back(kSize, '\0');
    ASSERT_TRUE(a.read_full(back.data(), back.size()));
    EXPECT_TRUE(back == out);
    join();
  });
}

// readable() looks without consuming; wait_readable() parks until a read would return
// (data, eof), including for data a previous read left behind (no new edge comes then).
TEST_P(NetTest, WaitReadableWithoutABuffer) {
  run([&] {
    auto [a, b] = net::pipe();
    auto r = b.readable();
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r);
    go([&a = a] {
      weft::sleep_for(std::chrono::milliseconds(5));
      ASSERT_TRUE(a.write(std::string_view("hello")));
    });
    EXPECT_FALSE(b.wait_readable());
    r = b.readable();
    ASSERT_TRUE(r);
    EXPECT_TRUE(*r);
    char buf[3];
    auto n = b.read(buf, 3);  // leaves "lo" behind
    ASSERT_TRUE(n);
    EXPECT_FALSE(b.wait_readable()) << "data left by a read must count";
    char rest[8];
    n = b.read(rest, sizeof rest);
    ASSERT_TRUE(n);
    EXPECT_EQ(std::string_view(rest, *n), "lo");
    join();
    a.close();
    EXPECT_FALSE(b.wait_readable());  // eof is readable
    n = b.read(rest, sizeof rest);
    EXPECT_EQ(n.error(), net::Error::eof);
    b.close();
    EXPECT_EQ(b.wait_readable(), net::Error::closed);
  });
}

// Exact-size reads, as a request/response peer makes: what a small read takes past its
// length (the spill) is the next read's, in order, and readable()/wait_readable() count
// it; and a read that took a whole reply knows the socket is empty, so the next one
// parks without asking the kernel first (empty_reads). Without the spill every round
// below costs two reads answered EAGAIN.
TEST_P(NetTest, ExactSizeReadsKeepOrderAndSkipTheEmptyRead) {
  run([&] {
    auto [a, b] = net::pipe();
    ASSERT_TRUE(a.write(std::string_view("one.two.three.")));
    char m[4];
    for (std::string_view want : {"one.", "two.", "thre"}) {
      ASSERT_TRUE(b.read_full(m, sizeof m));
      EXPECT_EQ(std::string_view(m, sizeof m), want);
    }
    EXPECT_TRUE(b.readable().value()) << "bytes in the spill are readable";
    EXPECT_FALSE(b.wait_readable());
    char rest[16];
    auto n = b.read(rest, sizeof rest);
    ASSERT_TRUE(n);
    EXPECT_EQ(std::string_view(rest, *n), "e.");  // the spill only, no system call
    EXPECT_FALSE(b.readable().value());

    constexpr int kRounds = 200;
    const std::uint64_t empty0 = net::poller_stats().empty_reads;
    go([&b = b] {  // the server: one 64-byte reply per 64-byte request
      char req[64];
      while (b.read_full(req, sizeof req)) ASSERT_TRUE(b.write(req, sizeof req));
    });
    char req[64], rep[64];
    std::memset(req, 'q', sizeof req);
    for (int r = 0; r < kRounds; r++) {
      std::memcpy(req, &r, sizeof r);
      ASSERT_TRUE(a.write(req, sizeof req));
      ASSERT_TRUE(a.read_full(rep, sizeof rep));
      ASSERT_EQ(std::memcmp(req, rep, sizeof req), 0) << "round " << r;
    }
    const std::uint64_t empty = net::poller_stats().empty_reads - empty0;
    // A readiness event for bytes a read has already taken costs one; not one a round.
    EXPECT_LT(empty, kRounds / 4u) << "reads answered EAGAIN in " << kRounds << " rounds";
    ASSERT_FALSE(a.close());
    join();
  });
}

TEST_P(NetTest, GatheredWritesArriveInOrder) {
  run([&] {
    auto [a, b] = net::pipe();
    std::vector<std::string> parts;
    std::vector<std::string_view> views;
    std::string expect;
    for (int i = 0; i < 3000; i++) {  // more buffers than one sendmsg takes
      parts.push_back(
          std::string(static_cast<std::size_t>(i % 97), static_cast<char>('a' + i % 26)));
    }
    for (auto& p : parts) {
      views.push_back(p);
      expect += p;
    }
    go([&, &a = a] {
      auto n = a.write_all(views);
      ASSERT_TRUE(n);
      EXPECT_EQ(*n, expect.size());
      a.close();
    });
    std::string got;
    char buf[1000];
    while (auto n = b.read(buf, sizeof buf)) got.append(buf, *n);
    EXPECT_EQ(got, expect);
    auto r = b.write_all({"x", "y"});
    EXPECT_FALSE(r);  // the peer is gone: EPIPE, not SIGPIPE
    join();
  });
}

TEST_P(NetTest, ReadDeadlineTimesOutAndCanBeLifted) {
  run([&] {
    auto [a, b] = net::pipe();
    char buf[8];
    ASSERT_FALSE(a.set_read_deadline(net::after(5ms)));
    auto r = a.read(buf, sizeof buf);
    EXPECT_EQ(r.error(), net::Error::timeout);
    EXPECT_EQ(r.error(), std::errc::timed_out);
    // A passed deadline fails every read at once, even with data waiting.
    ASSERT_TRUE(b.write("hi"));
    EXPECT_EQ(a.read(buf, sizeof buf).error(), net::Error::timeout);
    // Lifting it (the zero deadline) makes reads work again.
    ASSERT_FALSE(a.set_read_deadline({}));
    EXPECT_EQ(a.read(buf, sizeof buf).value(), 2u);
    // Extending a deadline before it fires: the read waits for the data instead.
    ASSERT_FALSE(a.set_read_deadline(net::after(1ms)));
    ASSERT_FALSE(a.set_read_deadline(net::after(1h)));
    go([&b = b] {
      weft::sleep_for(10ms);
      ASSERT_TRUE(b.write("late"));
    });
    EXPECT_EQ(a.read(buf, sizeof buf).value(), 4u);
    join();
  });
}

// After a read that returns less than it asked for, the next read waits for readiness
// before its system call (the queue was empty). Whatever order data and reads come in,
// nothing is lost or left waiting; a lost edge would end in the 10 s deadline's timeout.
TEST_P(NetTest, ShortReadsWaitForTheNextEdgeAndLoseNothing) {
  run([&] {
    auto [a, b] = net::pipe();
    ASSERT_FALSE(a.set_read_deadline(net::after(10s)));
    char buf[64];
    auto read_str = [&a = a, &buf](std::size_t len) {
      auto n = a.read(buf, len);
      return n ? std::string(buf, *n) : "error: " + n.error().message();
    };
    for (int i = 0; i < 100; i++) {
      ASSERT_TRUE(b.write("xy"));
      ASSERT_EQ(read_str(sizeof buf), "xy");  // short
      ASSERT_TRUE(b.write("z"));              // arrives before the next read
      ASSERT_EQ(read_str(sizeof buf), "z");
      go([&b = b] {  // arrives while the reader waits
        weft::yield();
        ASSERT_TRUE(b.write("w"));
      });
      ASSERT_EQ(read_str(sizeof buf), "w");
      ASSERT_TRUE(b.write("pq"));
      ASSERT_EQ(read_str(1), "p");  // full: the rest is read without waiting
      ASSERT_EQ(read_str(sizeof buf), "q");
      join();
    }
    // wait_readable() after a short read: parks first, then looks.
    ASSERT_TRUE(b.write("ab"));
    ASSERT_EQ(read_str(sizeof buf), "ab");
    EXPECT_FALSE(a.readable().value());
    go([&b = b] {
      weft::yield();
      ASSERT_TRUE(b.write("c"));
    });
    ASSERT_FALSE(a.wait_readable());
    EXPECT_TRUE(a.readable().value());
    ASSERT_EQ(read_str(sizeof buf), "c");
    join();
    ASSERT_TRUE(b.write("!"));
    ASSERT_FALSE(a.wait_readable());
    ASSERT_TRUE(a.readable().value());  // seen by a look: the read does not wait
    ASSERT_EQ(read_str(sizeof buf), "!");
    ASSERT_FALSE(b.close());
    EXPECT_EQ(a.read(buf, sizeof buf).error(), net::Error::eof);  // eof is an edge too
  });
}

TEST_P(NetTest, DeadlineSetByAnotherFiberWakesTheReader) {
  run([&] {
    auto [a, b] = net::pipe();
    weft::Chan<std::error_code> result(1);
    go([&a = a, result] {
      char buf[8];
      result.send(a.read(buf, sizeof buf).error());
    });
    weft::sleep_for(2ms);  // let it park (if it has not, the deadline is seen at once)
    ASSERT_FALSE(a.set_read_deadline(net::after(-1s)));
    EXPECT_EQ(*result.recv(), net::Error::timeout);
    join();
  });
}

TEST_P(NetTest, WriteDeadlineTimesOutWhenThePeerDoesNotRead) {
  run([&] {
    auto [a, b] = net::pipe();
    ASSERT_FALSE(a.set_write_deadline(net::after(20ms)));
    std::string chunk(1 << 20, 'x');
    std::error_code ec;
    for (int i = 0; i < 1000 && !ec; i++) ec = a.write(chunk).error();
    EXPECT_EQ(ec, net::Error::timeout);
  });
}

TEST_P(NetTest, CloseWakesBlockedReaderAndAcceptor) {
  run([&] {
    auto [a, b] = net::pipe();
    auto ln = listen_local();
    weft::Chan<std::error_code> result(2);
    go([&a = a, result] {
      char buf[8];
      result.send(a.read(buf, sizeof buf).error());
    });
    go([&ln, result] { result.send(ln.accept().error()); });
    weft::sleep_for(2ms);
    EXPECT_FALSE(a.close());
    EXPECT_FALSE(ln.close());
    EXPECT_EQ(*result.recv(), net::Error::closed);
    EXPECT_EQ(*result.recv(), net::Error::closed);
    EXPECT_EQ(a.close(), net::Error::closed);  // twice
    char c;
    EXPECT_EQ(a.read(&c, 1).error(), net::Error::closed);
    EXPECT_EQ(b.read(&c, 1).error(), net::Error::eof);  // the peer saw it close
    join();
  });
}

TEST_P(NetTest, OwnerMayDestroyASocketRightAfterClosingIt) {
  // Go's pattern: close a listener (or conn) from one fiber and drop it at once, while
  // the fiber blocked in accept (read) is still on its way out. ASan checks that the
  // woken call never touches freed memory.
  run([&] {
    for (int i = 0; i < 20; i++) {
      auto ln = std::make_unique<net::TcpListener>(listen_local());
      auto [a, b] = net::pipe();
      auto ca = std::make_unique<net::Conn>(std::move(a));
      weft::Chan<std::error_code> result(2);
      go([l = ln.get(), result] { result.send(l->accept().error()); });
      go([c = ca.get(), result] {
        char buf[4];
        result.send(c->read(buf, sizeof buf).error());
      });
      // Wait until both are parked inside their calls (the registry says "IO wait").
      auto parked = [] {
        int n = 0;
        for (const auto& f : weft::fibers()) n += f.wait_reason == weft::WaitReason::io;
        return n;
      };
      while (parked() < 2) weft::yield();
      ln->close();
      ln.reset();
      ca->close();
      ca.reset();
      EXPECT_EQ(*result.recv(), net::Error::closed);
      EXPECT_EQ(*result.recv(), net::Error::closed);
    }
    join();
  });
}

TEST_P(NetTest, HalfCloseLetsThePeerFinishSending) {
  run([&] {
    auto ln = listen_local();
    go([&] {
      auto c = ln.accept().value();
      std::string all;
      char buf[256];
      while (auto n = c.read(buf, sizeof buf)) all.append(buf, *n);
      ASSERT_TRUE(c.write("got " + std::to_string(all.size())));
    });  // c closes here
    auto c = net::dial_tcp(ln.addr().to_string()).value();
    ASSERT_TRUE(c.write(std::string(1000, 'q')));
    ASSERT_FALSE(c.shutdown_write());
    EXPECT_FALSE(c.write("more"));  // our side is shut
    char buf[64];
    auto n = c.read(buf, sizeof buf);
    ASSERT_TRUE(n);
    EXPECT_EQ(std::string(buf, *n), "got 1000");
    EXPECT_EQ(c.read(buf, sizeof buf).error(), net::Error::eof);
    join();
  });
}

TEST_P(NetTest, PeerResetIsAnError) {
  run([&] {
    auto ln = listen_local();
    go([&] {
      auto c = ln.accept().value();
      char b;
      ASSERT_TRUE(c.read(&b, 1));
      // SO_LINGER 0: close sends RST instead of FIN.
      linger lg{1, 0};
      ASSERT_EQ(setsockopt(c.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    });
    auto c = net::dial_tcp(ln.addr().to_string()).value();
    ASSERT_TRUE(c.write("x"));
    join();  // the server has closed with a reset
    char buf[8];
    auto r = c.read(buf, sizeof buf);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_reset);
  });
}

TEST_P(NetTest, DialErrors) {
  run([&] {
    // A port nobody listens on: refused, as an error code.
    auto ln = listen_local();
    std::string addr = ln.addr().to_string();
    ln.close();
    auto r = net::dial_tcp(addr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_refused);
    EXPECT_EQ(net::dial_tcp("no-port").error(), net::Error::bad_address);
    EXPECT_EQ(net::dial_tcp("127.0.0.1:99999").error(), net::Error::bad_address);
    EXPECT_EQ(net::dial_tcp("host.invalid:80").error(), net::Error::host_not_found);
  });
}

TEST_P(NetTest, DialTimeoutWhenTheBacklogIsFull) {
  run([&] {
    // A listener that never accepts, with a backlog of one: once its queue is full the
    // kernel drops new SYNs, so a dial can only end by its timeout.
    net::ListenOptions opts;
    opts.backlog = 1;
    auto ln = net::TcpListener::listen("127.0.0.1:0", opts).value();
    std::vector<net::TcpConn> held;
    std::error_code ec;
    for (int i = 0; i < 16 && !ec; i++) {
      auto c = net::dial_tcp(ln.addr().to_string(), 50ms);
      if (c)
        held.push_back(std::move(*c));
      else
        ec = c.error();
    }
    EXPECT_EQ(ec, net::Error::timeout);
  });
}

TEST_P(NetTest, NameResolutionAndIPv6) {
  run([&] {
    auto addrs = net::resolve("localhost", 80);
    ASSERT_TRUE(addrs) << addrs.error().message();
    EXPECT_FALSE(addrs->empty());
    auto ln = net::TcpListener::listen("[::1]:0");
    if (!ln) GTEST_SKIP() << "no IPv6 loopback: " << ln.error().message();
    EXPECT_EQ(ln->addr().family(), AF_INET6);
    EXPECT_EQ(ln->addr().to_string(), "[::1]:" + std::to_string(ln->addr().port()));
    go([&] {
      auto c = ln->accept().value();
      echo_until_eof(c);
    });
    auto c = net::dial_tcp(ln->addr().to_string()).value();
    ASSERT_TRUE(c.write("six"));
    char buf[3];
    ASSERT_TRUE(c.read_full(buf, 3));
    EXPECT_EQ(std::string(buf, 3), "six");
    c.close();
    join();
  });
}

TEST_P(NetTest, UnixSocketsAndRecording) {
  run([&] {
    std::string path = testing::TempDir() + "weft-net-" + std::to_string(getpid()) + "-" +
                       std::to_string(procs()) + ".sock";
    auto ln = net::UnixListener::listen(path).value();
    EXPECT_EQ(ln.addr().to_string(), "unix:" + path);
    go([&] {
      auto c = ln.accept().value();
      echo_until_eof(c);
    });
    net::Recording<net::UnixConn> c(net::dial_unix(path).value());
    ASSERT_TRUE(c.write("ping"));
    ASSERT_TRUE(c.write_all({"po", "ng"}));
    char buf[8];
    ASSERT_TRUE(c.read_full(buf, 8));
    EXPECT_EQ(c.sent(), "pingpong");
    EXPECT_EQ(c.received(), "pingpong");
    c.close();
    join();
    ln.close();
    // A stale socket file does not stop a new listener.
    EXPECT_TRUE(net::UnixListener::listen(path));
    unlink(path.c_str());
  });
}

TEST_P(NetTest, ReadFullReportsUnexpectedEof) {
  run([&] {
    auto [a, b] = net::pipe();
    ASSERT_TRUE(b.write("abc"));
    b.close();
    char buf[8];
    EXPECT_EQ(a.read_full(buf, 8).error(), net::Error::unexpected_eof);
    EXPECT_EQ(a.read_full(buf, 8).error(), net::Error::eof);
  });
}

TEST_P(NetTest, AcceptUnderAConnectionStorm) {
  // 64 dialers x 16 connections, all at once, against one accept loop.
  run([&] {
    auto ln = listen_local();
    const int kDialers = 64, kEach = 16;
    std::atomic<int> served{0};
    go([&] {
      weft::WaitGroup conns;
      for (int i = 0; i < kDialers * kEach; i++) {
        auto c = ln.accept();
        ASSERT_TRUE(c) << c.error().message();
        conns.add(1);
        weft::go([c = std::move(*c), conns, &served]() mutable {
          char b;
          if (c.read(&b, 1) && c.write(&b, 1)) served++;
          conns.done();
        });
      }
      conns.wait();
    });
    weft::WaitGroup dialers;
    std::atomic<int> ok{0};
    for (int d = 0; d < kDialers; d++) {
      dialers.add(1);
      weft::go([&, dialers] {
        for (int i = 0; i < kEach; i++) {
          auto c = net::dial_tcp(ln.addr().to_string());
          if (!c) continue;
          char b = 'x';
          if (c->write(&b, 1) && c->read(&b, 1)) ok++;
        }
        dialers.done();
      });
    }
    dialers.wait();
    join();
    EXPECT_EQ(ok.load(), kDialers * kEach);
    EXPECT_EQ(served.load(), kDialers * kEach);
  });
}

TEST_P(NetTest, PollerWakesForTimersAndForWorkFromAnotherThread) {
  run([&] {
    // A fiber parked on a socket: the only M left waits in the poller. A timer must
    // still fire on time-order, and work readied by a foreign thread must run.
    auto [a, b] = net::pipe();
    go([&a = a] {
      char c;
      EXPECT_TRUE(a.read(&c, 1));
    });
    weft::sleep_for(1ms);  // a timer must wake the M that waits in the poller
    weft::Chan<int> ch(0);
    std::thread t([ch] {  // work handed over from a thread outside the runtime
      std::this_thread::sleep_for(2ms);
      while (!ch.try_send(7)) std::this_thread::sleep_for(1ms);
    });
    EXPECT_EQ(ch.recv(), 7);
    weft::blocking([&] { t.join(); });
    ASSERT_TRUE(b.write("!"));
    join();
  });
}

TEST(NetProcess, NofileLimitRaisedToTheHardLimit) {
  weft::run([] {
    auto ln = listen_local();  // the runtime has started: the limit is raised
    rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    EXPECT_EQ(rl.rlim_cur, rl.rlim_max);
  });
}

namespace {
// spin_hits_for_echoes() runs a runtime with the given poll spin and one fiber echoing a
// connection; a plain thread outside the runtime sends `rounds` bytes, each once the
// fiber waits to read (and 20 ms more, so the runtime has gone idle), and reads them
// back. Returns the poller spins that found I/O.
std::uint64_t spin_hits_for_echoes(int poll_spin_us, int rounds) {
  weft::Options opts;
  opts.procs = 1;
  opts.poll_spin_us = poll_spin_us;
  std::uint64_t hits = ~std::uint64_t{0};
  weft::run(
      [&] {
        auto ln = listen_local();
        const std::uint16_t port = ln.addr().port();
        weft::WaitGroup wg;
        wg.add(1);
        weft::go([&ln, wg]() mutable {
          auto c = ln.accept();
          if (c) echo_until_eof(*c);
          wg.done();
        });
        auto reader_waits = [] {
          for (const weft::FiberInfo& f : weft::fibers())
            if (f.wait_reason == weft::WaitReason::io) return true;
          return false;
        };
        std::atomic<bool> done{false};
        std::thread client([&] {
          int fd = socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_port = htons(port);
          a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
          for (int i = 0; i < rounds; i++) {
            for (int k = 0; k < 5000 && !reader_waits(); k++) usleep(1000);
            usleep(20000);
            char c = static_cast<char>('a' + i), back = 0;
            ASSERT_EQ(write(fd, &c, 1), 1);
            ASSERT_EQ(read(fd, &back, 1), 1);
            EXPECT_EQ(back, c);
          }
          close(fd);
          done = true;
        });
        // Not weft::blocking(): with one P, a fiber in a blocking call holds the P the
        // spinning M needs. A sleeping fiber's timer ends a spin now and then, harmlessly.
        while (!done) weft::sleep_for(50ms);
        client.join();
        wg.wait();
        hits = weft::stats().poll_spin_hits;
      },
      opts);
  return hits;
}
}  // namespace

TEST(NetProcess, ThePollerSpinsOnlyWhenAsked) {
  // Spinning for up to 10 s before each sleep, the poller takes every request as it
  // arrives; without it, never. (The rounds would take 10 s each if the spin missed
  // the request and then slept out its whole length: it cannot, I/O ends the spin.)
  EXPECT_GE(spin_hits_for_echoes(10'000'000, 5), 3u);
  EXPECT_EQ(spin_hits_for_echoes(-1, 5), 0u);
}

// 10,000 connections open at once. The clients run in a child process (conn_flood.cpp)
// so that each side needs 10,000 descriptors, not 20,000: RLIMIT_NOFILE's hard limit is
// often 20,000 or less.
TEST(NetProcess, TenThousandConcurrentConnections) {
#if defined(__SANITIZE_THREAD__)
  // TSan keeps a thread-sized trace per fiber; 10,000 of them on each side exhaust its
  // mappings. The full count runs in the Release and ASan builds.
  const int kConns = 2000;
#else
  const int kConns = 10000;
#endif
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max < kConns + 100) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << rl.rlim_max;
  std::atomic<int> open{0}, max_open{0}, echoed{0};
  int status = -1;
  weft::run([&] {
    auto ln = net::TcpListener::listen("127.0.0.1:0").value();
    weft::WaitGroup conns, acceptor;
    acceptor.add(1);
    weft::go([&, conns, acceptor]() mutable {
      for (;;) {
        auto c = ln.accept();
        if (!c) {  // closed below
          acceptor.done();
          break;
        }
        conns.add(1);
        weft::go([c = std::move(*c), conns, &open, &max_open, &echoed]() mutable {
          int now = ++open;
          for (int m = max_open.load(); now > m && !max_open.compare_exchange_weak(m, now);) {
          }
          char buf[64];
          while (auto n = c.read(buf, sizeof buf)) {
            if (!c.write(buf, *n)) break;
            echoed++;
          }
          open--;
          conns.done();
        });
      }
    });
    std::string cmd =
        std::string(WEFT_CONN_FLOOD) + " " + ln.addr().to_string() + " " + std::to_string(kConns);
    status = weft::blocking([&] { return std::system(cmd.c_str()); });
    ln.close();
    acceptor.wait();
    conns.wait();
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(echoed.load(), kConns);
  EXPECT_EQ(max_open.load(), kConns) << "the client holds every connection open at once";
  EXPECT_EQ(open.load(), 0);
}
