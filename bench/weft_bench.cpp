// weft-bench: the runtime's micro-benchmarks. Each subcommand prints one line of
// key=value pairs (bench= impl=weft ... elapsed_ms=), the same shape as the Go and
// Boost.Fiber peers in bench/peers/, so bench/compare.sh can put them side by side.
//
//   spawn N      N fibers, each signals a WaitGroup
//   yield N      two fibers yield to each other N round trips, on one P
//   idle G       G fibers parked; RSS per fiber
//   idlecpu MS   every fiber asleep for MS ms; process CPU% over the window
//   mutex N      4 fibers contend on one Mutex, N lock/unlock in all
//   skynet N     the skynet tree (10-ary, N leaves) with a WaitGroup per node
//   skynet-chan N  the original skynet: results over a channel (cap 10) per node
//   pingpong N   two fibers bounce a value over two unbuffered channels, N round trips
//   ring G N     G fibers in a ring of unbuffered channels pass a token N times
//   select N     4 producers on buffered channels (cap 64), one consumer selecting
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "proc_stats.h"
#include "weft/chan.h"
#include "weft/condition_variable.h"
#include "weft/mutex.h"
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

void spawn(long n) {
  weft::run([n] {
    auto t0 = weft::now_ns();
    weft::WaitGroup wg;
    wg.add(n);
    for (long i = 0; i < n; i++) weft::go([wg] { wg.done(); });
    wg.wait();
    double ms = ms_since(t0);
    std::printf("bench=spawn impl=weft n=%ld elapsed_ms=%.3f ns_per_op=%.1f\n", n, ms,
                ms * 1e6 / static_cast<double>(n));
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

void idle(long g) {
  weft::run([g] {
    weft::Mutex mu;
    weft::ConditionVariable cv;
    bool release = false;
    weft::WaitGroup parked, done;
    // Warm the runtime (threads, first pools) before the baseline reading.
    weft::sleep_for(std::chrono::milliseconds(10));
    long rss0 = rss_bytes();
    auto t0 = weft::now_ns();
    parked.add(g);
    done.add(g);
    for (long i = 0; i < g; i++)
      weft::go([&, parked, done] {
        std::unique_lock lock(mu);
        parked.done();
        cv.wait(lock, [&] { return release; });
        lock.unlock();
        done.done();
      });
    parked.wait();
    weft::sleep_for(std::chrono::milliseconds(10));
    long rss1 = rss_bytes();
    double ms = ms_since(t0);
    {
      std::lock_guard lock(mu);
      release = true;
    }
    cv.notify_all();
    done.wait();
    std::printf("bench=idle impl=weft g=%ld elapsed_ms=%.3f rss_per_fiber_bytes=%.0f\n", g, ms,
                static_cast<double>(rss1 - rss0) / static_cast<double>(g));
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
  for (long i = 0; i < 10; i++) weft::go([rc, num, i, sub] { skynet_chan_node(rc, num + i * sub, sub); });
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
    std::printf("bench=pingpong impl=weft n=%ld elapsed_ms=%.3f ns_per_roundtrip=%.1f\n", n, ms,
                ms * 1e6 / static_cast<double>(n));
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
    std::printf("bench=select impl=weft n=%ld elapsed_ms=%.3f ns_per_msg=%.1f\n", each * 4, ms,
                ms * 1e6 / static_cast<double>(each * 4));
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "spawn") return spawn(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "yield") return yield_bench(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "idle") return idle(arg(argc, argv, 2, 100000)), 0;
  if (cmd == "idlecpu") return idlecpu(arg(argc, argv, 2, 1000)), 0;
  if (cmd == "mutex") return mutex_bench(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "skynet") return skynet(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "skynet-chan") return skynet_chan(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "pingpong") return pingpong(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "select") return select_bench(arg(argc, argv, 2, 1000000)), 0;
  if (cmd == "ring") return ring(arg(argc, argv, 2, 1000), arg(argc, argv, 3, 1000000)), 0;
  std::fprintf(stderr,
               "usage: weft-bench spawn N | yield N | idle G | idlecpu MS | mutex N | skynet N |\n"
               "                  skynet-chan N | pingpong N | ring G N | select N\n");
  return 2;
}
