// weft-perf: an AMQP 0-9-1 load generator on weft's client (weft/amqp/client.h), with
// RabbitMQ PerfTest's core flags and output shape, so that its numbers compare with
// PerfTest's and bench/broker_compare.sh can run the same scenario against several
// brokers.
//
//   weft-perf -h amqp://guest:guest@127.0.0.1:5672/ -x 1 -y 1 -a -s 1000 -z 10
//
// Topology (as PerfTest):
//  * Exchange -e (default "direct", type -t, default "direct") is declared on a setup
//    connection, unless it is "" (the default exchange) or an amq.* one.
//  * Without -u (and without --queues): each consumer declares a server-named,
//    exclusive, auto-delete queue on its own connection and binds it with the routing
//    key -k (default: one generated per run); every producer publishes with that key,
//    so with y consumers each message is delivered y times (fanout factor y).
//  * With -u NAME: one shared queue NAME, declared on the setup connection (durable iff
//    -f persistent, auto-delete per --auto-delete, default true as PerfTest) and bound
//    with -k (default: the queue's name). --queues N spreads over N queues NAME-0 ..
//    NAME-(N-1) (NAME defaults to "weft-perf"), each bound with its own name; producer
//    i publishes to queue i % N and consumer j consumes from queue j % N.
//  * Every producer and every consumer has its own connection and channel and runs in
//    its own fiber; consumers are set up (declare, bind, qos, consume) before any
//    producer starts.
//
// Messages: -s bytes (at least 12): a 4-byte sequence number and the 8-byte send time
// (CLOCK_MONOTONIC ns, little-endian), then zeros. Consumers are in the same process, so
// consumer latency = receive time - send time on the same clock.
//
// Confirms (-c N): the client exposes only wait_for_confirms() (wait until every publish
// so far is settled), not a per-confirm callback, so weft-perf approximates PerfTest's
// "at most N unconfirmed" window: it publishes N messages, then waits for all of them
// to be confirmed, then publishes the next N. The window therefore drains to zero
// before refilling (PerfTest's semaphore keeps it full), and `confirmed` advances in
// steps of N. Nacks: wait_for_confirms() tells only whether some message in the window
// was nacked, so `nacked` counts windows that contained at least one nack.
//
// Output: a line per interval (-i, default 1 s) as PerfTest's, a summary, then one
// machine-readable line of key=value pairs starting with "weft-perf".
// Exit status: 0, or 1 if any producer or consumer hit an error, a run with -C ended
// with messages missing, or the setup failed; 2 for bad flags.
//
// --idle-connections N [--hold S]: open N AMQP connections (no channels), print
// "idle_connections=N ready=1", keep them open S seconds (default: until SIGTERM or
// SIGINT), close them. bench/broker_compare.sh reads the broker's RSS meanwhile.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/amqp/client.h"
#include "weft/chan.h"
#include "weft/runtime.h"
#include "weft/select.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace {

using weft::amqp::AmqpError;
using weft::amqp::Channel;
using weft::amqp::Connection;
using weft::amqp::ConnectionOptions;

// ---- configuration -----------------------------------------------------------------

struct Config {
  std::string uri = "amqp://guest:guest@localhost:5672/";
  int producers = 1, consumers = 1;
  std::size_t size = 12;
  std::string queue;  // -u; empty: server-named per consumer (unless --queues)
  int queues = 1;
  std::string exchange = "direct", exchange_type = "direct", routing_key;
  bool persistent = false, mandatory = false;
  int confirm = 0;  // -c: window of unconfirmed publishes; 0: no confirm mode
  bool auto_ack = false;
  int prefetch = 0;   // -q
  int multi_ack = 0;  // -A: ack with multiple=true every N messages; 0: ack each one
  double rate = 0;    // -r: per producer, msg/s; 0: unlimited
  double time_s = 0;  // -z
  std::uint64_t pmessages = 0, cmessages = 0;  // -C, -D
  bool auto_delete = true;
  double interval_s = 1.0;
  std::string id;
  int idle_connections = 0;
  double hold_s = 0;
};

std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal.store(sig); }

// ---- latency histogram -------------------------------------------------------------

// An HDR-like log-linear histogram of nanoseconds: values below 64 exactly, above that
// 32 linear sub-buckets per power of two (relative error under 3.2%). Lock-free:
// consumers on any thread add with relaxed atomics; the reporter takes (and for the
// per-interval one, resets) the counts with exchange, so no sample is lost or counted
// twice across intervals.
class Histogram {
 public:
  static constexpr int kSubBits = 5, kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
  using Counts = std::vector<std::uint64_t>;

  static int index(std::uint64_t v) {
    if (v < 2 * kSub) return static_cast<int>(v);
    const int s = std::bit_width(v) - (kSubBits + 1);
    return (s + 1) * kSub + static_cast<int>((v >> s) - kSub);
  }
  // A bucket's lowest value and its width.
  static std::uint64_t low(int i) {
    if (i < 2 * kSub) return static_cast<std::uint64_t>(i);
    const int s = i / kSub - 1;
    return static_cast<std::uint64_t>(kSub + i % kSub) << s;
  }
  static std::uint64_t width(int i) {
    return i < 2 * kSub ? 1 : std::uint64_t(1) << (i / kSub - 1);
  }

  void record(std::uint64_t v) { b_[index(v)].fetch_add(1, std::memory_order_relaxed); }
  Counts take(bool reset) {
    Counts c(kBuckets);
    for (int i = 0; i < kBuckets; i++)
      c[i] = reset ? b_[i].exchange(0, std::memory_order_relaxed)
                   : b_[i].load(std::memory_order_relaxed);
    return c;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> b_{};
};

struct Percentiles {
  std::uint64_t count = 0;
  double min = 0, p50 = 0, p75 = 0, p95 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // ns
};

Percentiles percentiles(const Histogram::Counts& c) {
  Percentiles p;
  double sum = 0;
  for (int i = 0; i < Histogram::kBuckets; i++) {
    p.count += c[i];
    sum += c[i] * (Histogram::low(i) + (Histogram::width(i) - 1) / 2.0);
  }
  if (p.count == 0) return p;
  p.mean = sum / p.count;
  auto at = [&](double q) {
    const std::uint64_t rank = std::max<std::uint64_t>(1, std::uint64_t(std::ceil(q * p.count)));
    std::uint64_t seen = 0;
    for (int i = 0; i < Histogram::kBuckets; i++) {
      seen += c[i];
      if (seen >= rank) return Histogram::low(i) + (Histogram::width(i) - 1) / 2.0;
    }
    return 0.0;
  };
  for (int i = 0; i < Histogram::kBuckets; i++)
    if (c[i]) {
      p.min = double(Histogram::low(i));
      break;
    }
  for (int i = Histogram::kBuckets - 1; i >= 0; i--)
    if (c[i]) {
      p.max = double(Histogram::low(i) + Histogram::width(i) - 1);
      break;
    }
  p.p50 = at(0.50);
  p.p75 = at(0.75);
  p.p95 = at(0.95);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  return p;
}

// ---- shared run state --------------------------------------------------------------

struct Stats {
  std::atomic<std::uint64_t> sent{0}, confirmed{0}, nacked{0}, returned{0}, received{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<int> producers_running{0}, consumers_running{0};
  std::atomic<std::int64_t> last_receive_ns{0};
  Histogram interval, total;
};

// Routing: where producer i publishes and what consumer j consumes from.
struct Topology {
  bool server_named = false;        // a server-named queue per consumer
  std::vector<std::string> queues;  // named mode
  std::vector<std::string> keys;    // routing key per named queue
  std::string key;                  // server-named mode
  int fanout = 1;                   // deliveries per publish
};

// Run: everything the fibers share. Allocated once and never freed: a fiber stuck on
// a broker that stopped answering may outlive run_load().
struct Run {
  Config cfg;
  Stats st;
  Topology topo;
  Connection setup;
  std::optional<Channel> setup_ch;
  std::vector<Connection> pconns, cconns;
  std::atomic<bool> stop{false};
  std::atomic<bool> setup_failed{false};  // a consumer could not start
};

void report_error(Run& run, const char* who, int idx, const std::exception& e) {
  if (run.stop.load()) return;  // shutting down: the closes we made ourselves
  run.st.errors.fetch_add(1);
  if (auto* a = dynamic_cast<const AmqpError*>(&e))
    std::fprintf(stderr, "weft-perf: %s %d: AmqpError code=%u connection_error=%d: %s\n", who, idx,
                 a->code(), a->connection_error() ? 1 : 0, a->text().c_str());
  else
    std::fprintf(stderr, "weft-perf: %s %d: %s\n", who, idx, e.what());
  std::fflush(stderr);
}

// ---- producer ----------------------------------------------------------------------

void producer(Run& run, const Topology& topo, int idx, Connection& conn) {
  const Config& cfg = run.cfg;
  Stats& st = run.st;
  try {
    Channel ch = conn.channel();
    if (cfg.confirm > 0) ch.confirm_select();
    if (cfg.mandatory) {
      auto returns = ch.returns();
      weft::go("weft-perf returns", [returns, &st] {
        for (auto& r : returns) {
          (void)r;
          st.returned.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    weft::amqp::BasicProperties props;
    if (cfg.persistent) props.delivery_mode = 2;
    const std::string& rk = topo.server_named ? topo.key : topo.keys[idx % topo.keys.size()];
    const std::string body_template(cfg.size, '\0');
    const std::int64_t start = mono_ns();
    std::uint64_t n = 0, window = 0;
    while (!run.stop.load(std::memory_order_relaxed) && (cfg.pmessages == 0 || n < cfg.pmessages)) {
      if (cfg.rate > 0) {
        // Message n is due at start + n / rate: a steady rate, which catches up with a
        // burst after a stall (the producer parked on backpressure, say).
        const std::int64_t due = start + std::int64_t(double(n) * 1e9 / cfg.rate);
        const std::int64_t now = mono_ns();
        if (due > now) weft::sleep_for(std::chrono::nanoseconds(due - now));
        if (run.stop.load(std::memory_order_relaxed)) break;
      }
      // A publish that never parks (the writer keeps up) would keep this fiber on its P
      // for ever: let sysmon's 10 ms preemption request through, for the consumers'.
      weft::maybe_yield();
      std::string body = body_template;
      const auto seq = static_cast<std::uint32_t>(n);
      const std::int64_t ts = mono_ns();
      std::memcpy(body.data(), &seq, 4);
      std::memcpy(body.data() + 4, &ts, 8);
      ch.basic_publish(cfg.exchange, rk, std::move(body), props, cfg.mandatory);
      n++;
      st.sent.fetch_add(1, std::memory_order_relaxed);
      if (cfg.confirm > 0 && ++window >= static_cast<std::uint64_t>(cfg.confirm)) {
        if (ch.wait_for_confirms())
          st.confirmed.fetch_add(window, std::memory_order_relaxed);
        else
          st.nacked.fetch_add(1, std::memory_order_relaxed);
        window = 0;
      }
    }
    if (cfg.confirm > 0 && window > 0 && !run.stop.load()) {
      if (ch.wait_for_confirms())
        st.confirmed.fetch_add(window, std::memory_order_relaxed);
      else
        st.nacked.fetch_add(1, std::memory_order_relaxed);
    }
    if (cfg.mandatory && !run.stop.load()) {
      // A synchronous round trip: the server answers it after every basic.return of
      // the publishes before it, so those are counted before the run ends.
      ch.basic_qos(0);
      weft::sleep_for(std::chrono::milliseconds(20));  // the returns pump's last hand-off
    }
    if (run.stop.load()) return;  // the connection is closed by main
    ch.close();
  } catch (const std::exception& e) {
    report_error(run, "producer", idx, e);
  }
}

// ---- consumer ----------------------------------------------------------------------

// Consumer setup runs before any producer starts; `ready` is signalled either way.
void consumer(Run& run, const Topology& topo, int idx, Connection& conn, weft::WaitGroup ready) {
  const Config& cfg = run.cfg;
  Stats& st = run.st;
  bool signalled = false;
  auto signal_ready = [&] {
    if (!signalled) ready.done();
    signalled = true;
  };
  try {
    Channel ch = conn.channel();
    if (cfg.prefetch > 0) ch.basic_qos(static_cast<std::uint16_t>(cfg.prefetch));
    std::string qname;
    if (topo.server_named) {
      qname = ch.queue_declare("", {.exclusive = true, .auto_delete = true}).name;
      ch.queue_bind(qname, cfg.exchange, topo.key);
    } else {
      qname = topo.queues[idx % topo.queues.size()];
    }
    auto c = ch.basic_consume(qname, {.no_ack = cfg.auto_ack});
    signal_ready();
    std::uint64_t got = 0, unacked = 0;
    for (auto& d : c.deliveries) {
      const std::int64_t now = mono_ns();
      if (d.body.size() >= 12) {
        std::int64_t ts;
        std::memcpy(&ts, d.body.data() + 4, 8);
        const std::uint64_t lat = now > ts ? std::uint64_t(now - ts) : 0;
        st.interval.record(lat);
        st.total.record(lat);
      }
      st.received.fetch_add(1, std::memory_order_relaxed);
      st.last_receive_ns.store(now, std::memory_order_relaxed);
      got++;
      if (!cfg.auto_ack) {
        if (cfg.multi_ack > 0) {
          if (++unacked >= static_cast<std::uint64_t>(cfg.multi_ack)) {
            d.ack(true);
            unacked = 0;
          }
        } else {
          d.ack();
        }
      }
      if (cfg.cmessages > 0 && got >= cfg.cmessages) break;
    }
    if (run.stop.load()) return;
    ch.close();
  } catch (const std::exception& e) {
    if (!signalled) run.setup_failed.store(true);
    signal_ready();
    report_error(run, "consumer", idx, e);
  }
}

// ---- reporting ---------------------------------------------------------------------

std::string latency_us(const Percentiles& p) {
  if (p.count == 0) return "0/0/0/0/0 µs";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.0f/%.0f/%.0f/%.0f/%.0f µs", p.min / 1e3, p.p50 / 1e3,
                p.p75 / 1e3, p.p95 / 1e3, p.p99 / 1e3);
  return buf;
}

// wait_for(): parks until `wg` is done or `timeout` passes; true if it finished.
bool wait_for(weft::WaitGroup wg, std::chrono::milliseconds timeout) {
  weft::Chan<bool> done(1);
  weft::go("weft-perf wait", [wg, done] {
    wg.wait();
    done.send(true);
  });
  bool ok = false;
  weft::select(weft::on_recv(done, [&](std::optional<bool>) { ok = true; }),
               weft::on_recv(weft::after(timeout), [](auto) {}));
  return ok;
}

// close_all(): closes every connection, each in its own fiber, for at most `timeout`.
bool close_all(std::vector<Connection>& conns, std::chrono::milliseconds timeout) {
  weft::WaitGroup wg;
  for (auto& c : conns) {
    wg.add(1);
    weft::go("weft-perf close", [&c, wg] {
      c.close();
      wg.done();
    });
  }
  return wait_for(wg, timeout);
}

std::string make_id() {
  const auto t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "test-%02d%02d%02d-%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(getpid() % 1000));
  return buf;
}

// ---- the load test -----------------------------------------------------------------

// parse_uri() reads the -h URI, saying what is wrong with it on stderr.
bool parse_uri(const std::string& uri, ConnectionOptions* opts) {
  try {
    *opts = ConnectionOptions::parse_uri(uri);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-perf: bad uri '%s': %s\n", uri.c_str(), e.what());
    return false;
  }
}

int run_load(Run& run) {
  const Config& cfg = run.cfg;
  Stats& st = run.st;
  ConnectionOptions opts;
  if (!parse_uri(cfg.uri, &opts)) return 2;

  Topology& topo = run.topo;
  const bool named = !cfg.queue.empty() || cfg.queues > 1;
  if (!named && cfg.exchange.empty()) {
    std::fprintf(stderr, "weft-perf: the default exchange (-e '') needs a queue name (-u)\n");
    return 2;
  }
  if (named) {
    const std::string base = cfg.queue.empty() ? "weft-perf" : cfg.queue;
    for (int i = 0; i < cfg.queues; i++) {
      std::string q = cfg.queues == 1 ? base : base + "-" + std::to_string(i);
      topo.keys.push_back(cfg.exchange.empty()                            ? q
                          : (cfg.queues == 1 && !cfg.routing_key.empty()) ? cfg.routing_key
                                                                          : q);
      topo.queues.push_back(std::move(q));
    }
  } else {
    topo.server_named = true;
    topo.key = cfg.routing_key.empty() ? "weft-perf-" + run.cfg.id : cfg.routing_key;
    topo.fanout = std::max(cfg.consumers, 1);
  }

  // Setup: exchange and named queues, on a connection of its own.
  Connection& setup = run.setup;
  std::optional<Channel>& setup_ch = run.setup_ch;
  try {
    opts.connection_name = "weft-perf setup";
    setup = Connection::open(opts);
    setup_ch.emplace(setup.channel());
    if (!cfg.exchange.empty() && cfg.exchange.rfind("amq.", 0) != 0)
      setup_ch->exchange_declare(cfg.exchange, cfg.exchange_type);
    for (std::size_t i = 0; i < topo.queues.size(); i++) {
      setup_ch->queue_declare(topo.queues[i],
                              {.durable = cfg.persistent, .auto_delete = cfg.auto_delete});
      if (!cfg.exchange.empty()) setup_ch->queue_bind(topo.queues[i], cfg.exchange, topo.keys[i]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-perf: setup: %s\n", e.what());
    return 1;
  }

  auto& pconns = run.pconns;
  auto& cconns = run.cconns;
  try {
    for (int i = 0; i < cfg.consumers; i++) {
      opts.connection_name = "weft-perf consumer " + std::to_string(i);
      cconns.push_back(Connection::open(opts));
    }
    for (int i = 0; i < cfg.producers; i++) {
      opts.connection_name = "weft-perf producer " + std::to_string(i);
      pconns.push_back(Connection::open(opts));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-perf: connect: %s\n", e.what());
    return 1;
  }

  weft::WaitGroup cready, cdone, pdone;
  for (int i = 0; i < cfg.consumers; i++) {
    cready.add(1);
    cdone.add(1);
    st.consumers_running.fetch_add(1);
    weft::go("weft-perf consumer", [&run, &topo, i, &cconns, cready, cdone] {
      consumer(run, topo, i, cconns[i], cready);
      run.st.consumers_running.fetch_sub(1);
      cdone.done();
    });
  }
  if (!wait_for(cready, std::chrono::seconds(30)) || run.setup_failed.load()) {
    std::fprintf(stderr, "weft-perf: %s\n",
                 run.setup_failed.load() ? "a consumer failed to start; no producer started"
                                         : "consumers not ready after 30 s");
    run.stop.store(true);
    (void)close_all(cconns, std::chrono::seconds(10));
    (void)close_all(pconns, std::chrono::seconds(10));
    return 1;
  }

  std::printf("id: %s, starting %d consumer(s) and %d producer(s)\n", cfg.id.c_str(), cfg.consumers,
              cfg.producers);
  std::fflush(stdout);
  const std::int64_t start = mono_ns();
  st.last_receive_ns.store(start);
  for (int i = 0; i < cfg.producers; i++) {
    pdone.add(1);
    st.producers_running.fetch_add(1);
    weft::go("weft-perf producer", [&run, &topo, i, &pconns, pdone] {
      producer(run, topo, i, pconns[i]);
      run.st.producers_running.fetch_sub(1);
      pdone.done();
    });
  }

  // Reporter and stop conditions, polled every 10 ms.
  const std::int64_t interval_ns = std::int64_t(cfg.interval_s * 1e9);
  std::int64_t next_report = start + interval_ns, last_report = start;
  std::uint64_t last_sent = 0, last_conf = 0, last_recv = 0;
  std::int64_t producers_end = 0;
  bool missing = false;
  const char* why = "";
  for (;;) {
    weft::sleep_for(std::chrono::milliseconds(10));
    const std::int64_t now = mono_ns();
    if (now >= next_report) {
      const double dt = (now - last_report) / 1e9;
      const auto s = st.sent.load(), c = st.confirmed.load(), r = st.received.load();
      auto p = percentiles(st.interval.take(true));
      std::printf(
          "id: %s, time: %.3f s, sent: %.0f msg/s, confirmed: %.0f msg/s, received: "
          "%.0f msg/s, min/median/75th/95th/99th consumer latency: %s\n",
          cfg.id.c_str(), (now - start) / 1e9, (s - last_sent) / dt, (c - last_conf) / dt,
          (r - last_recv) / dt, latency_us(p).c_str());
      std::fflush(stdout);
      last_sent = s, last_conf = c, last_recv = r, last_report = now;
      next_report += interval_ns;
      if (next_report <= now) next_report = now + interval_ns;
    }
    if (g_signal.load()) {
      why = "signal";
      break;
    }
    if (cfg.time_s > 0 && now - start >= std::int64_t(cfg.time_s * 1e9)) {
      why = "time";
      break;
    }
    const bool producers_finished = cfg.producers == 0 || st.producers_running.load() == 0;
    if (producers_finished && producers_end == 0) producers_end = now;
    if (producers_finished && cfg.producers > 0 && cfg.pmessages == 0) {
      why = "producers_failed";  // unlimited producers only stop on errors
      break;
    }
    if (producers_finished) {
      if (cfg.consumers == 0) {
        why = "producers_done";
        break;
      }
      if (st.consumers_running.load() == 0) {
        why = "consumers_done";
        break;
      }
      if (cfg.cmessages == 0 && cfg.producers > 0 &&
          st.received.load() >= st.sent.load() * topo.fanout) {
        why = "all_received";
        break;
      }
      // Nothing more arriving: report what is missing instead of waiting for ever.
      if (cfg.producers > 0 &&
          now - std::max(st.last_receive_ns.load(), producers_end) > 10'000'000'000) {
        why = "receive_timeout";
        missing = cfg.cmessages == 0;
        break;
      }
    }
  }
  const std::int64_t end = mono_ns();
  if (producers_end == 0) producers_end = end;
  run.stop.store(true);
  // Snapshot before closing anything.
  const auto sent = st.sent.load(), confirmed = st.confirmed.load(), nacked = st.nacked.load(),
             returned = st.returned.load(), received = st.received.load();
  const auto total = percentiles(st.total.take(false));
  const double elapsed = (end - start) / 1e9;
  const double send_elapsed = std::max((std::min(producers_end, end) - start) / 1e9, 1e-9);

  // Producers park in publish (backpressure) or wait_for_confirms at most until their
  // connection closes.
  if (!wait_for(pdone, std::chrono::seconds(5))) {
    if (!close_all(pconns, std::chrono::seconds(10)))
      std::fprintf(stderr, "weft-perf: producer connections did not close within 10 s\n");
    (void)wait_for(pdone, std::chrono::seconds(5));
  }

  // Queue depths (named queues), before the consumers' connections go.
  std::string depth;
  if (!topo.queues.empty()) {
    auto msgs = std::make_shared<std::atomic<std::int64_t>>(-1);
    weft::WaitGroup qwg;
    qwg.add(1);
    weft::go("weft-perf depth", [&run, msgs, qwg] {
      try {
        std::int64_t n = 0;
        for (auto& q : run.topo.queues)
          n += run.setup_ch->queue_declare(q, {.passive = true}).message_count;
        msgs->store(n);
      } catch (const AmqpError& e) {
        // 404: an auto-delete queue went with its last consumer; nothing to report.
        if (e.code() != 404) std::fprintf(stderr, "weft-perf: queue depth: %s\n", e.what());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "weft-perf: queue depth: %s\n", e.what());
      }
      qwg.done();
    });
    if (wait_for(qwg, std::chrono::seconds(10)) && msgs->load() >= 0)
      depth = " queued=" + std::to_string(msgs->load());
  }

  std::printf("id: %s, test stopped (%s)\n", cfg.id.c_str(), why);
  std::printf("id: %s, sending rate avg: %.0f msg/s\n", cfg.id.c_str(), sent / send_elapsed);
  if (cfg.confirm > 0)
    std::printf("id: %s, confirmed rate avg: %.0f msg/s\n", cfg.id.c_str(),
                confirmed / send_elapsed);
  std::printf("id: %s, receiving rate avg: %.0f msg/s\n", cfg.id.c_str(), received / elapsed);
  std::printf("id: %s, consumer latency min/median/75th/95th/99th %s\n", cfg.id.c_str(),
              latency_us(total).c_str());
  const std::uint64_t errors = st.errors.load();
  const std::uint64_t expected = sent * topo.fanout;
  std::printf(
      "weft-perf id=%s stop=%s producers=%d consumers=%d size=%zu elapsed_s=%.3f sent=%llu "
      "confirmed=%llu nacked=%llu returned=%llu received=%llu sent_rate=%.0f "
      "confirmed_rate=%.0f received_rate=%.0f latency_min_us=%.0f latency_p50_us=%.0f "
      "latency_p75_us=%.0f latency_p95_us=%.0f latency_p99_us=%.0f latency_p999_us=%.0f "
      "latency_max_us=%.0f latency_mean_us=%.0f latency_samples=%llu unreceived=%lld%s "
      "errors=%llu\n",
      cfg.id.c_str(), why, cfg.producers, cfg.consumers, cfg.size, elapsed,
      (unsigned long long)sent, (unsigned long long)confirmed, (unsigned long long)nacked,
      (unsigned long long)returned, (unsigned long long)received, sent / send_elapsed,
      confirmed / send_elapsed, received / elapsed, total.min / 1e3, total.p50 / 1e3,
      total.p75 / 1e3, total.p95 / 1e3, total.p99 / 1e3, total.p999 / 1e3, total.max / 1e3,
      total.mean / 1e3, (unsigned long long)total.count,
      cfg.consumers > 0 ? (long long)expected - (long long)received : 0LL, depth.c_str(),
      (unsigned long long)errors);
  std::fflush(stdout);
  if (missing)
    std::fprintf(stderr,
                 "weft-perf: %lld of %llu messages never arrived (10 s without a delivery)\n",
                 (long long)expected - (long long)received, (unsigned long long)expected);

  bool closed = close_all(pconns, std::chrono::seconds(10));
  closed = close_all(cconns, std::chrono::seconds(10)) && closed;
  (void)wait_for(cdone, std::chrono::seconds(5));
  weft::WaitGroup swg;
  swg.add(1);
  weft::go("weft-perf close", [&run, swg] {
    run.setup_ch.reset();  // closes the channel
    run.setup.close();
    swg.done();
  });
  closed = wait_for(swg, std::chrono::seconds(10)) && closed;
  if (!closed) std::fprintf(stderr, "weft-perf: some connections did not close within 10 s\n");
  return errors > 0 || missing ? 1 : 0;
}

// ---- idle connections --------------------------------------------------------------

int run_idle(const Config& cfg) {
  ConnectionOptions opts;
  if (!parse_uri(cfg.uri, &opts)) return 2;
  const int n = cfg.idle_connections;
  // Never freed: a close that times out leaves fibers holding these.
  auto& conns = *new std::vector<Connection>(n);
  std::atomic<int> failed{0}, next{0};
  const std::int64_t t0 = mono_ns();
  weft::WaitGroup wg;
  const int openers = std::min(n, 32);  // handshakes in flight at once
  for (int k = 0; k < openers; k++) {
    wg.add(1);
    weft::go("weft-perf idle open", [&, wg] {
      for (int i; (i = next.fetch_add(1)) < n;) {
        try {
          conns[i] = Connection::open(opts);
        } catch (const std::exception& e) {
          if (failed.fetch_add(1) == 0)
            std::fprintf(stderr, "weft-perf: idle connection %d: %s\n", i, e.what());
        }
      }
      wg.done();
    });
  }
  wg.wait();
  const double open_ms = (mono_ns() - t0) / 1e6;
  std::printf("idle_connections=%d failed=%d open_ms=%.1f ready=1\n", n - failed.load(),
              failed.load(), open_ms);
  std::fflush(stdout);
  const std::int64_t until = cfg.hold_s > 0 ? mono_ns() + std::int64_t(cfg.hold_s * 1e9) : 0;
  while (!g_signal.load() && (until == 0 || mono_ns() < until))
    weft::sleep_for(std::chrono::milliseconds(50));
  int dead = 0;
  for (auto& c : conns)
    if (!c.is_open()) dead++;
  const bool closed = close_all(conns, std::chrono::seconds(30));
  std::printf("idle_closed=1 lost_while_idle=%d clean=%d\n", dead - failed.load(), closed ? 1 : 0);
  std::fflush(stdout);
  return failed.load() > 0 || dead > failed.load() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::vector<std::string> flags;
  CLI::App app{"weft-perf: an AMQP 0-9-1 load generator (RabbitMQ PerfTest's core flags)"};
  app.set_help_flag("--help", "Print this help and exit");  // -h is the URI, as PerfTest's
  app.add_option("-h,--uri", cfg.uri, "AMQP URI")->capture_default_str();
  app.add_option("-x,--producers", cfg.producers, "Producer count")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("-y,--consumers", cfg.consumers, "Consumer count")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("-s,--size", cfg.size, "Message size in bytes (at least 12)")
      ->capture_default_str();
  app.add_option("-u,--queue", cfg.queue,
                 "Queue name (default: a server-named exclusive queue per consumer)");
  app.add_option("--queues", cfg.queues, "Spread over N queues named QUEUE-0..QUEUE-(N-1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("-e,--exchange", cfg.exchange, "Exchange name ('' for the default exchange)")
      ->capture_default_str();
  app.add_option("-t,--type", cfg.exchange_type, "Exchange type")->capture_default_str();
  app.add_option("-k,--routing-key", cfg.routing_key,
                 "Routing key (default: the queue name, or one generated per run)");
  app.add_option("-f,--flag", flags, "Message flag: persistent | mandatory (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::IsMember({"persistent", "mandatory"}));
  app.add_option("-c,--confirm", cfg.confirm,
                 "Max unconfirmed publishes per producer (confirm mode; see the header)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_flag("-a,--autoack", cfg.auto_ack, "Auto-ack (no-ack consume)");
  app.add_option("-q,--qos", cfg.prefetch, "Consumer prefetch count (0: unlimited)")
      ->check(CLI::Range(0, 65535));
  app.add_option("-A,--multi-ack-every", cfg.multi_ack, "Ack with multiple=true every N messages")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("-r,--rate", cfg.rate, "Producer rate limit, msg/s per producer (0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-z,--time", cfg.time_s, "Run time in seconds (0: until done or signalled)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-C,--pmessages", cfg.pmessages, "Messages per producer (0: unlimited)");
  app.add_option("-D,--cmessages", cfg.cmessages, "Messages per consumer (0: unlimited)");
  app.add_option("--auto-delete", cfg.auto_delete, "Declare named queues auto-delete")
      ->capture_default_str();
  app.add_option("-i,--interval", cfg.interval_s, "Report interval, seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--id", cfg.id, "Test id in the output (default: test-HHMMSS-pid)");
  app.add_option("--idle-connections", cfg.idle_connections,
                 "Only open N idle connections, hold them, close them")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--hold", cfg.hold_s,
                 "With --idle-connections: seconds to hold (0: until a signal)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  for (auto& f : flags) {
    if (f == "persistent") cfg.persistent = true;
    if (f == "mandatory") cfg.mandatory = true;
  }
  if (cfg.size < 12) cfg.size = 12;  // sequence number + timestamp, as PerfTest
  if (cfg.id.empty()) cfg.id = make_id();
  if (!cfg.auto_ack && cfg.multi_ack > 0 && cfg.prefetch > 0 && cfg.multi_ack > cfg.prefetch)
    std::fprintf(stderr,
                 "weft-perf: warning: -A %d > -q %d: consumers stall once the prefetch is "
                 "full (PerfTest has the same trap)\n",
                 cfg.multi_ack, cfg.prefetch);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int rc = 0;
  weft::run([&] {
    if (cfg.idle_connections > 0) {
      rc = run_idle(cfg);
      return;
    }
    Run* run = new Run;  // never freed: see Run
    run->cfg = cfg;
    rc = run_load(*run);
  });
  return rc;
}
