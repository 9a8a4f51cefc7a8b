// weft-bench-boostfiber: the Boost.Fiber (1.74) peer of weft-bench. The same workloads,
// the same single line of key=value pairs (bench= impl=boostfiber ... elapsed_ms=), so
// bench/compare.sh can put weft, Go and Boost.Fiber side by side. elapsed_ms is the
// wall time of the measured part only.
//
//   spawn N        N fibers, each signals a WaitGroup                  (ns_per_op)
//   yield N        two fibers hand a "turn" back and forth with this_fiber::yield,
//                  N round trips; main thread only, default round_robin (ns_per_roundtrip)
//   idle G         G fibers parked on a fiber condition_variable; RSS delta / G
//   idlecpu MS     main fiber sleeps MS ms, nothing else runs; process CPU%
//   mutex N        4 fibers, one boost::fibers::mutex, N lock/unlock in all (ns_per_op)
//   skynet N       10-ary tree down to N leaves, WaitGroup + result slot per node (sum)
//   skynet-chan N  the original skynet over channels: each node's children push into a
//                  buffered_channel<long> of capacity 16 (Boost wants a power of two;
//                  Go's version uses 10)                               (sum)
//   pingpong N     two fibers, two unbuffered_channels, N round trips
//   ring G N       G fibers in a ring of unbuffered_channels, N passes of a token
//   select N       Boost.Fiber has no select: its closest equivalent, 4 producers
//                  (N/4 each) push into ONE buffered_channel (capacity 64) that one
//                  consumer pops; prints note=no_select_fan_in
//   echo, stream   not run: Boost.Fiber has no network poller (a fiber blocked on a
//                  socket blocks its thread), so there is no like-for-like version;
//                  exits with status 2, which bench/compare.sh reports as skipped=1
//
// Threads: everything but `yield` runs under algo::work_stealing on WEFT_PROCS (default
// std::thread::hardware_concurrency()) threads. Every worker thread installs the
// algorithm (its constructor is a barrier over all of them), then parks its main fiber
// on a fiber condition variable until the benchmark body, run on the main thread's main
// fiber, has finished; the body waits for every fiber it started before it returns, so
// each thread's scheduler shuts down with no fiber left. work_stealing is used with its
// default suspend=false: idle threads spin looking for work (see idlecpu), which also
// makes cross-thread hand-offs very slow when the machine is oversubscribed. Setting
// WEFT_BOOST_SUSPEND=1 passes suspend=true instead (idle threads sleep on a condition
// variable) and adds ws_suspend=1 to the output line. With one
// thread (WEFT_PROCS=1) the default round_robin is used instead: Boost 1.74's
// work_stealing loops forever looking for a victim other than itself when alone.
//
// Stacks: boost::fibers::default_stack, i.e. boost::context::fixedsize_stack with
// stack_traits::default_size() = 128 KiB, malloc'ed (Debian's Boost is not built with
// BOOST_CONTEXT_USE_MAP_STACK), no guard page; only touched pages become resident.
#include <algorithm>
#include <atomic>
#include <boost/fiber/all.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../proc_stats.h"

namespace bf = boost::fibers;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double per(double ms, long n) { return ms * 1e6 / static_cast<double>(n); }

long arg(int argc, char** argv, int i, long def) {
  if (argc <= i) return def;
  char* end = nullptr;
  long v = std::strtol(argv[i], &end, 10);
  if (!end || *end != '\0' || v <= 0) {
    std::fprintf(stderr, "weft-bench-boostfiber: bad argument '%s'\n", argv[i]);
    std::exit(2);
  }
  return v;
}

int procs() {
  if (const char* p = std::getenv("WEFT_PROCS"); p && std::atoi(p) > 0) return std::atoi(p);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// WEFT_BOOST_SUSPEND=1: work_stealing(n, suspend=true); see the header.
bool ws_suspend() {
  const char* p = std::getenv("WEFT_BOOST_SUSPEND");
  return p && std::atoi(p) > 0;
}

// Ends the output line: " ws_suspend=1" when that mode is in use, then the newline.
void eol() { std::fputs(ws_suspend() && procs() > 1 ? " ws_suspend=1\n" : "\n", stdout); }

using bench::cpu_ms;
using bench::rss_bytes;

// WaitGroup: an atomic counter; only the final done() takes the fiber mutex, sets the
// flag and notifies. wait() returns only after that done() released the mutex, so the
// WaitGroup may be destroyed as soon as wait() returns.
class WaitGroup {
 public:
  explicit WaitGroup(long n = 0) : count_(n) {}
  void add(long n) { count_.fetch_add(n, std::memory_order_relaxed); }
  void done() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::unique_lock l(mu_);
      zero_ = true;
      cv_.notify_all();
    }
  }
  void wait() {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return zero_; });
  }

 private:
  std::atomic<long> count_;
  bf::mutex mu_;
  bf::condition_variable cv_;
  bool zero_ = false;
};

// Runs body on the main thread's main fiber with work_stealing over procs() threads.
template <class F>
void with_work_stealing(F body) {
  const int n = procs();
  const bool suspend = ws_suspend();
  if (n == 1) {  // round_robin, see the header
    body();
    return;
  }
  bf::mutex mu;
  bf::condition_variable cv;
  bool over = false;
  std::vector<std::thread> threads;
  for (int i = 1; i < n; i++)
    threads.emplace_back([&, suspend] {
      bf::use_scheduling_algorithm<bf::algo::work_stealing>(n, suspend);
      std::unique_lock l(mu);
      cv.wait(l, [&] { return over; });
    });
  // Returns once all n threads have installed theirs (work_stealing's own barrier).
  bf::use_scheduling_algorithm<bf::algo::work_stealing>(n, suspend);
  body();
  {
    std::unique_lock l(mu);
    over = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
}

void spawn(long n) {
  with_work_stealing([n] {
    auto t0 = Clock::now();
    WaitGroup wg(n);
    for (long i = 0; i < n; i++) bf::fiber([&wg] { wg.done(); }).detach();
    wg.wait();
    double ms = ms_since(t0);
    std::printf("bench=spawn impl=boostfiber n=%ld elapsed_ms=%.3f ns_per_op=%.1f", n, ms,
                per(ms, n));
    eol();
  });
}

void yield_bench(long n) {
  std::atomic<int> turn{0};
  auto t0 = Clock::now();
  bf::fiber fs[2];
  for (int side = 0; side < 2; side++)
    fs[side] = bf::fiber([&turn, side, n] {
      for (long i = 0; i < n; i++) {
        while (turn.load(std::memory_order_acquire) != side) boost::this_fiber::yield();
        turn.store(1 - side, std::memory_order_release);
      }
    });
  for (auto& f : fs) f.join();
  double ms = ms_since(t0);
  std::printf("bench=yield impl=boostfiber n=%ld elapsed_ms=%.3f ns_per_roundtrip=%.1f\n", n, ms,
              per(ms, n));
}

void idle(long g) {
  with_work_stealing([g] {
    bf::mutex mu;
    bf::condition_variable cv;
    bool release = false;
    WaitGroup parked(g), done(g);
    long rss0 = rss_bytes();
    auto t0 = Clock::now();
    for (long i = 0; i < g; i++)
      bf::fiber([&] {
        std::unique_lock l(mu);
        parked.done();
        cv.wait(l, [&] { return release; });
        l.unlock();
        done.done();
      }).detach();
    parked.wait();
    double ms = ms_since(t0);
    // Each fiber signalled holding mu, so once we can take mu every fiber is in cv.wait.
    { std::unique_lock l(mu); }
    long rss1 = rss_bytes();
    {
      std::unique_lock l(mu);
      release = true;
    }
    cv.notify_all();
    done.wait();
    std::printf("bench=idle impl=boostfiber g=%ld elapsed_ms=%.3f rss_per_fiber_bytes=%.0f", g, ms,
                static_cast<double>(rss1 - rss0) / static_cast<double>(g));
    eol();
  });
}

void idlecpu(long ms_arg) {
  with_work_stealing([ms_arg] {
    boost::this_fiber::sleep_for(std::chrono::milliseconds(20));  // let start-up settle
    double c0 = cpu_ms();
    auto t0 = Clock::now();
    boost::this_fiber::sleep_for(std::chrono::milliseconds(ms_arg));
    double wall = ms_since(t0);
    double cpu = cpu_ms() - c0;
    std::printf("bench=idlecpu impl=boostfiber ms=%ld elapsed_ms=%.3f cpu_percent=%.2f", ms_arg,
                wall, 100.0 * cpu / wall);
    eol();
  });
}

void mutex_bench(long n) {
  with_work_stealing([n] {
    bf::mutex mu;
    long counter = 0;
    WaitGroup wg(4);
    auto t0 = Clock::now();
    for (int f = 0; f < 4; f++)
      bf::fiber([&] {
        for (long i = 0; i < n / 4; i++) {
          mu.lock();
          counter++;
          mu.unlock();
        }
        wg.done();
      }).detach();
    wg.wait();
    double ms = ms_since(t0);
    std::printf("bench=mutex impl=boostfiber n=%ld elapsed_ms=%.3f ns_per_op=%.1f counter=%ld", n,
                ms, per(ms, n), counter);
    eol();
  });
}

void skynet_node(long num, long size, long* out) {
  if (size == 1) {
    *out = num;
    return;
  }
  long results[10] = {};
  WaitGroup wg(10);
  const long sub = size / 10;
  for (long i = 0; i < 10; i++)
    bf::fiber([num, sub, i, &results, &wg] {
      skynet_node(num + i * sub, sub, &results[i]);
      wg.done();
    }).detach();
  wg.wait();
  long sum = 0;
  for (long r : results) sum += r;
  *out = sum;
}

void skynet(long n) {
  with_work_stealing([n] {
    auto t0 = Clock::now();
    long sum = 0;
    skynet_node(0, n, &sum);
    double ms = ms_since(t0);
    std::printf("bench=skynet impl=boostfiber n=%ld sum=%ld elapsed_ms=%.3f", n, sum, ms);
    eol();
  });
}

// A child's push() releases the channel's spinlock as its last touch of the channel, and
// the parent pops all 10 values under that spinlock, so the parent may destroy rc as
// soon as it has them.
void skynet_chan_node(bf::buffered_channel<long>* c, long num, long size) {
  if (size == 1) {
    c->push(num);
    return;
  }
  bf::buffered_channel<long> rc(16);  // capacity must be a power of two: 16, not Go's 10
  const long sub = size / 10;
  for (long i = 0; i < 10; i++)
    bf::fiber([&rc, num, i, sub] { skynet_chan_node(&rc, num + i * sub, sub); }).detach();
  long sum = 0;
  for (int i = 0; i < 10; i++) sum += rc.value_pop();
  c->push(sum);
}

void skynet_chan(long n) {
  with_work_stealing([n] {
    auto t0 = Clock::now();
    bf::buffered_channel<long> c(2);
    bf::fiber([&c, n] { skynet_chan_node(&c, 0, n); }).detach();
    long sum = c.value_pop();
    double ms = ms_since(t0);
    std::printf("bench=skynet-chan impl=boostfiber n=%ld sum=%ld elapsed_ms=%.3f", n, sum, ms);
    eol();
  });
}

void pingpong(long n) {
  with_work_stealing([n] {
    bf::unbuffered_channel<long> a, b;
    auto t0 = Clock::now();
    bf::fiber echo([&] {
      long v;
      while (a.pop(v) == bf::channel_op_status::success) b.push(v + 1);
    });
    for (long i = 0; i < n; i++) {
      a.push(i);
      b.value_pop();
    }
    double ms = ms_since(t0);
    a.close();
    echo.join();
    std::printf("bench=pingpong impl=boostfiber n=%ld elapsed_ms=%.3f ns_per_roundtrip=%.1f", n, ms,
                per(ms, n));
    eol();
  });
}

// ring: fiber i pops the token (a pass count) from chans[i] and pushes it, plus one, to
// chans[i+1 mod g]; whoever pops the count n stops the run. Then every channel is closed
// so the other fibers' pops return, and they are waited for before the channels go.
void ring(long g, long n) {
  with_work_stealing([g, n] {
    std::vector<std::unique_ptr<bf::unbuffered_channel<long>>> chans;
    for (long i = 0; i < g; i++) chans.push_back(std::make_unique<bf::unbuffered_channel<long>>());
    bf::buffered_channel<long> done(2);
    WaitGroup exited(g);
    auto t0 = Clock::now();
    for (long i = 0; i < g; i++)
      bf::fiber([&, i] {
        auto& in = *chans[i];
        auto& out = *chans[(i + 1) % g];
        long v;
        while (in.pop(v) == bf::channel_op_status::success) {
          if (v >= n) {
            done.push(v);
            break;
          }
          if (out.push(v + 1) != bf::channel_op_status::success) break;
        }
        exited.done();
      }).detach();
    chans[0]->push(0);
    done.value_pop();
    double ms = ms_since(t0);
    for (auto& c : chans) c->close();
    exited.wait();
    std::printf("bench=ring impl=boostfiber g=%ld n=%ld elapsed_ms=%.3f ns_per_pass=%.1f", g, n, ms,
                per(ms, n));
    eol();
  });
}

void select_bench(long n) {
  with_work_stealing([n] {
    const long per4 = n / 4, total = per4 * 4;
    bf::buffered_channel<long> ch(64);
    WaitGroup producers(4);
    auto t0 = Clock::now();
    for (int p = 0; p < 4; p++)
      bf::fiber([&] {
        for (long k = 0; k < per4; k++) ch.push(k);
        producers.done();
      }).detach();
    long sum = 0;
    for (long got = 0; got < total; got++) sum += ch.value_pop();
    double ms = ms_since(t0);
    producers.wait();
    if (sum != 4 * (per4 * (per4 - 1) / 2)) std::fprintf(stderr, "select: bad sum %ld\n", sum);
    std::printf(
        "bench=select impl=boostfiber n=%ld elapsed_ms=%.3f ns_per_msg=%.1f note=no_select_fan_in",
        total, ms, per(ms, total));
    eol();
  });
}

const char kUsage[] =
    "usage: weft-bench-boostfiber <bench> [args]\n"
    "  spawn [N=1000000] | yield [N=1000000] | idle [G=100000] | idlecpu [MS=1000]\n"
    "  mutex [N=1000000] | skynet [N=1000000] | skynet-chan [N=1000000]\n"
    "  pingpong [N=1000000] | ring [G=1000] [N=1000000] | select [N=1000000]\n"
    "  (echo and stream are weft-bench's and the Go peer's only: no network poller)\n"
    "env: WEFT_PROCS (threads; default hardware_concurrency)\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "spawn") {
    spawn(arg(argc, argv, 2, 1000000));
  } else if (cmd == "yield") {
    yield_bench(arg(argc, argv, 2, 1000000));
  } else if (cmd == "idle") {
    idle(arg(argc, argv, 2, 100000));
  } else if (cmd == "idlecpu") {
    idlecpu(arg(argc, argv, 2, 1000));
  } else if (cmd == "mutex") {
    mutex_bench(arg(argc, argv, 2, 1000000));
  } else if (cmd == "skynet") {
    skynet(arg(argc, argv, 2, 1000000));
  } else if (cmd == "skynet-chan") {
    skynet_chan(arg(argc, argv, 2, 1000000));
  } else if (cmd == "pingpong") {
    pingpong(arg(argc, argv, 2, 1000000));
  } else if (cmd == "ring") {
    long g = arg(argc, argv, 2, 1000);
    if (g < 2) {
      std::fprintf(stderr, "weft-bench-boostfiber: ring needs at least 2 fibers\n");
      return 2;
    }
    ring(g, arg(argc, argv, 3, 1000000));
  } else if (cmd == "select") {
    select_bench(arg(argc, argv, 2, 1000000));
  } else if (cmd == "echo" || cmd == "stream") {
    std::fprintf(stderr, "weft-bench-boostfiber: %s: Boost.Fiber has no network poller\n",
                 cmd.c_str());
    return 2;
  } else {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::fflush(stdout);
  return 0;
}
