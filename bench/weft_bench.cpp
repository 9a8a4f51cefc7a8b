// weft-bench: the runtime's micro-benchmarks. Each subcommand prints one line of
// key=value pairs (bench= impl=weft ... elapsed_ms=), the same shape as the Go and
// Boost.Fiber peers in bench/peers/, so bench/compare.sh can put them side by side.
//
//   spawn N      N fibers, each signals a WaitGroup
//   yield N      two fibers yield to each other N round trips, on one P
//   switch N     the floor under yield: two bare Boost.Context contexts jump to each
//                other N round trips (jump_fcontext, no scheduler, no run queue)
//   idle G       G fibers parked in a channel receive; RSS per fiber
//   idlecpu MS   every fiber asleep for MS ms; process CPU% over the window
//   mutex N      4 fibers contend on one Mutex, N lock/unlock in all
//   skynet N     the skynet tree (10-ary, N leaves) with a WaitGroup per node
//   skynet-chan N  the original skynet: results over a channel (cap 10) per node
//   pingpong N   two fibers bounce a value over two unbuffered channels, N round trips
//   ring G N     G fibers in a ring of unbuffered channels pass a token N times
//   select N     4 producers on buffered channels (cap 64), one consumer selecting
//   echo C N     loopback TCP echo: a server fiber per connection echoes what it reads;
//                C client fibers, one connection each, write a 64-byte message and read
//                it back whole, N round trips in all (msgs_per_s)
//   stream C S   C connections each send S bytes one way in 64 KiB writes, then
//                shutdown_write; the server reads to eof and answers one byte (bytes_per_s)
//
// echo and stream run client and server in this process over 127.0.0.1 with weft::net,
// in plain blocking style. Every connection is dialed and accepted before the clock
// starts; the clock stops when the last client has finished.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "proc_stats.h"
#include "weft/chan.h"
#include "weft/introspect.h"
#include "weft/mutex.h"
#include "weft/net.h"
#include "weft/runtime.h"
#include "weft/select.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace {

double ms_since(std::int64_t t0) { return (weft::now_ns() - t0) / 1e6; }

using bench::cpu_ms;
using bench::rss_bytes;

long arg(int argc, char** argv, int i, long fallback) {
  return argc > i ? std::atol(argv[i]) : fallback;
}

// sched_fields() is the scheduler's side of a run, appended to some benchmarks' lines:
// fiber switches, steals (fibers moved between Ps), and an M's sleeps for lack of work
// and wake-ups by another thread, and the system monitor's ticks.
std::string sched_fields() {
  const weft::SchedStats st = weft::stats();
  char buf[160];
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::snprintf(buf, sizeof buf,
                "switches=%llu steals=%llu parks=%llu wakeups=%llu sysmon_ticks=%llu",
                u(st.switches), u(st.steals), u(st.parks), u(st.wakeups), u(st.sysmon_ticks));
  return buf;
}

void spawn(long n) {
  weft::run([n] {
    auto t0 = weft::now_ns();
    weft::WaitGroup wg;
    wg.add(n);
    for (long i = 0; i < n; i++) weft::go([wg] { wg.done(); });
    wg.wait();
    double ms = ms_since(t0);
    std::printf("bench=spawn impl=weft n=%ld elapsed_ms=%.3f ns_per_op=%.1f %s\n", n, ms,
                ms * 1e6 / static_cast<double>(n), sched_fields().c_str());
  });
}

void yield_bench(long n) {
  weft::Options opts;
  opts.procs = 1;
  weft::run(
      [n] {
        std::atomic<int> turn{0};
        weft::WaitGroup wg;
        wg.add(2);
        auto t0 = weft::now_ns();
        for (int side = 0; side < 2; side++)
          weft::go([&turn, wg, side, n] {
            for (long i = 0; i < n; i++) {
              while (turn.load(std::memory_order_acquire) != side) weft::yield();
              turn.store(1 - side, std::memory_order_release);
            }
            wg.done();
          });
        wg.wait();
        double ms = ms_since(t0);
        std::printf("bench=yield impl=weft n=%ld elapsed_ms=%.3f ns_per_roundtrip=%.1f\n", n, ms,
                    ms * 1e6 / static_cast<double>(n));
      },
      opts);
}

// switch_floor() measures what any stack-switching scheduler pays at least per yield
// round trip on this machine: two jumps between two contexts, with nothing else (weft
// switches with the same jump_fcontext, plus its run queue and bookkeeping).
void switch_floor(long n) {
  namespace ctx = boost::context::detail;
  constexpr std::size_t kStack = 64 * 1024;
  std::vector<char> stack(kStack);
  ctx::fcontext_t other = ctx::make_fcontext(stack.data() + kStack, kStack, [](ctx::transfer_t t) {
    for (;;) t = ctx::jump_fcontext(t.fctx, nullptr);
  });
  ctx::transfer_t t = ctx::jump_fcontext(other, nullptr);  // start it
  auto t0 = weft::now_ns();
  for (long i = 0; i < n; i++) t = ctx::jump_fcontext(t.fctx, nullptr);
  double ms = ms_since(t0);
  std::printf("bench=switch impl=weft n=%ld elapsed_ms=%.3f ns_per_roundtrip=%.1f\n", n, ms,
              ms * 1e6 / static_cast<double>(n));
}

void idle(long g) {
  // Each fiber parks in a channel receive, as Go's peer parks in `<-release`.
  weft::run([g] {
    weft::Chan<int> release(0);
    weft::WaitGroup parked, done;
    // Warm the runtime (threads, first pools) before the baseline reading.
    weft::sleep_for(std::chrono::milliseconds(10));
    long rss0 = rss_bytes();
    auto t0 = weft::now_ns();
    parked.add(g);
    done.add(g);
    for (long i = 0; i < g; i++)
      weft::go([&release, parked, done] {
        parked.done();
        release.recv();
        done.done();
      });
    parked.wait();
    double ms = ms_since(t0);
    // The last fibers have signalled but may not have reached the receive yet.
    weft::sleep_for(std::chrono::milliseconds(10));
    long rss1 = rss_bytes();
    release.close();
    done.wait();
    std::printf("bench=idle impl=weft g=%ld elapsed_ms=%.3f rss_per_fiber_bytes=%.0f stacks=%s\n",
                g, ms, static_cast<double>(rss1 - rss0) / static_cast<double>(g),
                weft::stats().stack_kind);
  });
}

void idlecpu(long ms) {
  weft::run([ms] {
    weft::sleep_for(std::chrono::milliseconds(20));  // let the Ms park
    double c0 = cpu_ms();
    auto t0 = weft::now_ns();
    weft::sleep_for(std::chrono::milliseconds(ms));
    double wall = ms_since(t0);
    double used = cpu_ms() - c0;
    std::printf("bench=idlecpu impl=weft ms=%ld elapsed_ms=%.3f cpu_percent=%.2f\n", ms, wall,
                100.0 * used / wall);
  });
}

void mutex_bench(long n) {
  weft::run([n] {
    weft::Mutex mu;
    long counter = 0;
    weft::WaitGroup wg;
    wg.add(4);
    auto t0 = weft::now_ns();
    for (int f = 0; f < 4; f++)
      weft::go([&, wg] {
        for (long i = 0; i < n / 4; i++) {
          mu.lock();
          counter++;
          mu.unlock();
        }
        wg.done();
      });
    wg.wait();
    double ms = ms_since(t0);
    std::printf("bench=mutex impl=weft n=%ld elapsed_ms=%.3f ns_per_op=%.1f counter=%ld\n", n, ms,
                ms * 1e6 / static_cast<double>(n), counter);
  });
}

void skynet_node(long num, long size, long* out) {
  if (size == 1) {
    *out = num;
    return;
  }
  long results[10] = {};
  weft::WaitGroup wg;
  wg.add(10);
  const long sub = size / 10;
  for (long i = 0; i < 10; i++)
    weft::go([=, &results] {
      skynet_node(num + i * sub, sub, &results[i]);
      wg.done();
    });
  wg.wait();
  long sum = 0;
  for (long r : results) sum += r;
  *out = sum;
}

void skynet(long n) {
  weft::run([n] {
    auto t0 = weft::now_ns();
    long sum = 0;
    skynet_node(0, n, &sum);
    double ms = ms_since(t0);
    std::printf("bench=skynet impl=weft n=%ld sum=%ld elapsed_ms=%.3f\n", n, sum, ms);
  });
}

void skynet_chan_node(weft::Chan<long> out, long num, long size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  weft::Chan<long> rc(10);
  const long sub = size / 10;
  for (long i = 0; i < 10; i++)
    weft::go([rc, num, i, sub] { skynet_chan_node(rc, num + i * sub, sub); });
  long sum = 0;
  for (int i = 0; i < 10; i++) sum += *rc.recv();
  out.send(sum);
}

void skynet_chan(long n) {
  weft::run([n] {
    auto t0 = weft::now_ns();
    weft::Chan<long> c(1);
    weft::go([c, n] { skynet_chan_node(c, 0, n); });
    long sum = *c.recv();
    double ms = ms_since(t0);
    std::printf("bench=skynet-chan impl=weft n=%ld sum=%ld elapsed_ms=%.3f\n", n, sum, ms);
  });
}

void pingpong(long n) {
  weft::run([n] {
    weft::Chan<long> a(0), b(0);
    weft::WaitGroup done;
    done.add(1);
    weft::go([a, b, done] {
      for (long v : a) b.send(v + 1);
      done.done();
    });
    auto t0 = weft::now_ns();
    for (long i = 0; i < n; i++) {
      a.send(i);
      b.recv();
    }
    double ms = ms_since(t0);
    a.close();
    done.wait();
    std::printf("bench=pingpong impl=weft n=%ld elapsed_ms=%.3f ns_per_roundtrip=%.1f %s\n", n, ms,
                ms * 1e6 / static_cast<double>(n), sched_fields().c_str());
  });
}

void ring(long g, long n) {
  weft::run([g, n] {
    std::vector<weft::Chan<long>> chans;
    for (long i = 0; i < g; i++) chans.emplace_back(0);
    weft::Chan<int> done(1);
    weft::WaitGroup exited;
    for (long i = 0; i < g; i++) {
      exited.add(1);
      weft::go([in = chans[static_cast<std::size_t>(i)],
                out = chans[static_cast<std::size_t>((i + 1) % g)], done, exited, n] {
        for (long v : in) {
          if (v >= n) {
            done.send(1);
            break;
          }
          out.send(v + 1);
        }
        exited.done();
      });
    }
    auto t0 = weft::now_ns();
    chans[0].send(0);
    done.recv();
    double ms = ms_since(t0);
    for (auto& c : chans) c.close();
    exited.wait();
    std::printf("bench=ring impl=weft g=%ld n=%ld elapsed_ms=%.3f ns_per_pass=%.1f\n", g, n, ms,
                ms * 1e6 / static_cast<double>(n));
  });
}

void select_bench(long n) {
  weft::run([n] {
    weft::Chan<long> c[4] = {weft::Chan<long>(64), weft::Chan<long>(64), weft::Chan<long>(64),
                             weft::Chan<long>(64)};
    weft::WaitGroup producers;
    const long each = n / 4;
    auto t0 = weft::now_ns();
    for (auto& ch : c) {
      producers.add(1);
      weft::go([ch, producers, each] {
        for (long k = 0; k < each; k++) ch.send(k);
        producers.done();
      });
    }
    long got = 0;
    auto count = [&](std::optional<long>) { got++; };
    while (got < each * 4)
      weft::select(weft::on_recv(c[0], count), weft::on_recv(c[1], count),
                   weft::on_recv(c[2], count), weft::on_recv(c[3], count));
    double ms = ms_since(t0);
    producers.wait();
    std::printf("bench=select impl=weft n=%ld elapsed_ms=%.3f ns_per_msg=%.1f %s\n", each * 4, ms,
                ms * 1e6 / static_cast<double>(each * 4), sched_fields().c_str());
  });
}

// ---- network ------------------------------------------------------------------------

// A failed network call ends the run: a benchmark has nothing sensible to fall back on.
[[noreturn]] void fail(const char* what, const std::string& why = "") {
  std::fprintf(stderr, "weft-bench: %s%s%s\n", what, why.empty() ? "" : ": ", why.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

void need(std::error_code ec, const char* what) {
  if (ec) fail(what, ec.message());
}

// need() unwraps a net result.
template <class T>
T need(weft::net::Result<T> r, const char* what) {
  need(r.error(), what);
  return std::move(*r);
}

// Two sockets per connection live in this process: lift the soft descriptor limit to
// the hard one, as Go's runtime does at start-up.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

constexpr std::size_t kEchoMsg = 64;
constexpr std::size_t kStreamChunk = 64 << 10;

// net_bench() sets up the loopback pair common to echo and stream: an accept loop that
// hands each of c connections to a new fiber running serve(conn), and c client fibers,
// each dialing and then running client(i, conn) once the clock starts. Returns the
// measured wall time in ms: from the moment every connection is established (dialed
// and accepted) until every client has returned. Call it inside weft::run.
template <class Serve, class Client>
double net_bench(long c, Serve serve, Client client) {
  auto ln = need(weft::net::TcpListener::listen("127.0.0.1:0"), "listen");
  const std::string addr = ln.addr().to_string();
  weft::WaitGroup ready, gate, done, served;
  ready.add(2 * c);  // c dials, c accepts
  gate.add(1);
  done.add(c);
  served.add(c);
  weft::go([&ln, &serve, c, ready, served] {
    for (long i = 0; i < c; i++) {
      auto conn = need(ln.accept(), "accept");
      ready.done();
      weft::go([&serve, served, conn = std::move(conn)]() mutable {
        serve(conn);
        conn.close();
        served.done();
      });
    }
  });
  for (long i = 0; i < c; i++)
    weft::go([&addr, &client, i, ready, gate, done] {
      auto conn = need(weft::net::dial_tcp(addr), "dial");
      ready.done();
      gate.wait();
      client(i, conn);
      conn.close();
      done.done();
    });
  ready.wait();
  ln.close();
  auto t0 = weft::now_ns();
  gate.done();
  done.wait();
  double ms = ms_since(t0);
  served.wait();
  return ms;
}

void echo(long c, long n) {
  raise_fd_limit();
  weft::run([c, n] {
    const std::uint64_t empty0 = weft::net::poller_stats().empty_reads;
    double ms = net_bench(
        c,
        [](weft::net::TcpConn& conn) {
          char buf[4096];
          while (auto k = conn.read(buf, sizeof buf))
            if (!conn.write(buf, *k)) break;
        },
        [c, n](long i, weft::net::TcpConn& conn) {
          const long rounds = n / c + (i < n % c ? 1 : 0);
          char msg[kEchoMsg], back[kEchoMsg];
          std::memset(msg, 'x', sizeof msg);
          for (long r = 0; r < rounds; r++) {
            std::memcpy(msg, &r, sizeof r);
            need(conn.write(msg, sizeof msg), "echo: write");
            need(conn.read_full(back, sizeof back), "echo: read");
            if (std::memcmp(msg, back, sizeof msg) != 0) fail("echo: the reply differs");
          }
        });
    std::printf(
        "bench=echo impl=weft conns=%ld n=%ld msg_bytes=%zu elapsed_ms=%.3f msgs_per_s=%.0f "
        "empty_reads_per_roundtrip=%.3f\n",
        c, n, kEchoMsg, ms, static_cast<double>(n) / (ms / 1e3),
        static_cast<double>(weft::net::poller_stats().empty_reads - empty0) /
            static_cast<double>(n));
  });
}

void stream(long c, long s) {
  raise_fd_limit();
  weft::run([c, s] {
    double ms = net_bench(
        c,
        [s](weft::net::TcpConn& conn) {
          std::vector<char> buf(kStreamChunk);
          long got = 0;
          for (;;) {
            auto k = conn.read(buf.data(), buf.size());
            if (!k && k.error() == weft::net::Error::eof) break;
            got += static_cast<long>(need(std::move(k), "stream: server read"));
          }
          if (got != s) fail("stream: the server read a wrong number of bytes");
          need(conn.write("\1"), "stream: server write");
        },
        [s](long, weft::net::TcpConn& conn) {
          std::vector<char> buf(kStreamChunk, 'x');
          for (long sent = 0; sent < s;) {
            auto k = std::min(static_cast<long>(kStreamChunk), s - sent);
            need(conn.write(buf.data(), static_cast<std::size_t>(k)), "stream: write");
            sent += k;
          }
          need(conn.shutdown_write(), "stream: shutdown");
          char ack;
          need(conn.read_full(&ack, 1), "stream: read ack");
        });
    std::printf(
        "bench=stream impl=weft conns=%ld bytes_per_conn=%ld elapsed_ms=%.3f bytes_per_s=%.0f\n", c,
        s, ms, static_cast<double>(c) * static_cast<double>(s) / (ms / 1e3));
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "spawn") return spawn(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "yield") return yield_bench(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "switch") return switch_floor(arg(argc, argv, 2, 10000000)), 0;
  if (cmd == "idle") return idle(arg(argc, argv, 2, 100000)), 0;
  if (cmd == "idlecpu") return idlecpu(arg(argc, argv, 2, 1000)), 0;
  if (cmd == "mutex") return mutex_bench(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "skynet") return skynet(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "skynet-chan") return skynet_chan(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "pingpong") return pingpong(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "select") return select_bench(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "ring") return ring(arg(argc, argv, 2, 1000), arg(argc, argv, 3, 1000000)), 0;
  if (cmd == "echo") return echo(arg(argc, argv, 2, 1000), arg(argc, argv, 3, 500000)), 0;
  if (cmd == "stream") return stream(arg(argc, argv, 2, 4), arg(argc, argv, 3, 1L << 30)), 0;
  std::fprintf(stderr,
               "usage: weft-bench spawn N | yield N | switch N | idle G | idlecpu MS | mutex N |\n"
               "                  skynet N | skynet-chan N | pingpong N | ring G N | select N |\n"
               "                  echo C N | stream C S\n");
  return 2;
}
