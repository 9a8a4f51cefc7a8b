// pprof_target: a weft program with known behaviour, serving /debug on a free loopback
// port, for debug_endpoints_test.sh to profile with real tools (curl, go tool pprof).
//
//   - fiber "burner" (labels role=burner) burns CPU in weft_test_burn_cpu();
//   - fiber "parked-receiver" waits forever on a channel receive in
//     weft_test_wait_forever();
//   - fiber "blocked-receiver" receives, in weft_test_receive_after_delay(), values a
//     feeder sends every 20 ms, so the block profile (rate 1) records that site;
//   - two fibers contend on a weft::Mutex in weft_test_contend(), for the mutex profile.
// Prints "listening on HOST:PORT" once serving; SIGTERM stops everything and exits 0.
// With WEFT_TEST_GDB_TRAP=1 it raises SIGTRAP once "parked-receiver" is parked, for
// tests/tools/gdb_test.sh to inspect the fibers under gdb.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "weft/chan.h"
#include "weft/debug/handlers.h"
#include "weft/debug/http.h"
#include "weft/introspect.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/net.h"
#include "weft/runtime.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace {

std::atomic<bool> stopping{false};

__attribute__((noinline)) double weft_test_burn_cpu() {
  double x = 0;
  while (!stopping.load(std::memory_order_relaxed)) {
    for (int i = 1; i < 200000; i++) x += std::sqrt(static_cast<double>(i)) * 1e-9;
    weft::maybe_yield();
  }
  return x;
}

__attribute__((noinline)) void weft_test_wait_forever(weft::Chan<int> never) {
  (void)never.recv();  // returns when main closes it at exit
}

__attribute__((noinline)) void weft_test_receive_after_delay(weft::Chan<int> ch) {
  while (ch.recv()) {
  }
}

__attribute__((noinline)) void weft_test_contend(weft::Mutex& mu) {
  while (!stopping.load(std::memory_order_relaxed)) {
    std::lock_guard lock(mu);
    weft::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

int main() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  weft::set_block_profile_rate(1);
  weft::set_mutex_profile_fraction(1);
  return weft::run([&] {
    auto ln = weft::net::TcpListener::listen("127.0.0.1:0");
    if (!ln) {
      std::fprintf(stderr, "listen: %s\n", ln.error().message().c_str());
      std::exit(1);
    }
    weft::debug::HttpServer http;
    weft::debug::install(http);
    weft::debug::publish("target", [] { return "{\"answer\": 42}"; });

    weft::WaitGroup wg;
    weft::Chan<int> never(0), ticks(0);
    weft::Mutex mu;
    wg.add(7);
    weft::go("burner", [&, wg] {
      weft::with_labels({{"role", "burner"}}, [] { weft_test_burn_cpu(); });
      wg.done();
    });
    weft::go("parked-receiver", [&, wg] {
      weft_test_wait_forever(never);
      wg.done();
    });
    weft::go("blocked-receiver", [&, wg] {
      weft_test_receive_after_delay(ticks);
      wg.done();
    });
    weft::go("feeder", [&, wg] {
      while (!stopping.load()) {
        weft::sleep_for(std::chrono::milliseconds(20));
        ticks.send(1);
      }
      ticks.close();
      wg.done();
    });
    for (int i = 0; i < 2; i++) {
      weft::go("contender", [&, wg] {
        weft_test_contend(mu);
        wg.done();
      });
    }
    weft::go("signals", [&, wg] {
      int sig = 0;
      weft::blocking([&] { sigwait(&sigs, &sig); });
      stopping.store(true);
      never.close();
      ln->close();
      wg.done();
    });
    if (const char* trap = std::getenv("WEFT_TEST_GDB_TRAP"); trap && *trap == '1') {
      weft::go("gdb-trap", [] {
        auto parked = [] {
          for (const auto& f : weft::fibers())
            if (f.name == "parked-receiver" && f.state == weft::FiberState::waiting) return true;
          return false;
        };
        while (!parked()) weft::sleep_for(std::chrono::milliseconds(1));
        std::raise(SIGTRAP);
      });
    }
    std::printf("listening on %s\n", ln->addr().to_string().c_str());
    std::fflush(stdout);
    http.serve(*ln);
    wg.wait();
  });
}
