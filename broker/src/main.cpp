// weftd: the AMQP 0-9-1 broker.
//
//   weftd [--amqp-listen HOST:PORT] [--config FILE] [--heartbeat S] ...   (--help lists all)
//
// Flags and the config file (INI/TOML key = value, same names as the flags) are parsed
// with CLI11. SIGTERM or SIGINT: stop accepting, ask every client to close (320
// CONNECTION_FORCED), wait for them, exit 0.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <string>

#include "broker.h"
#include "log.h"
#include "message.h"
#include "weft/debug/handlers.h"
#include "weft/debug/http.h"
#include "weft/runtime.h"
#include "weft/waitgroup.h"

int main(int argc, char** argv) {
  weftd::Config cfg;
  std::string http_listen = "127.0.0.1:15672", log_level = "info";
  std::uint64_t max_message_size = cfg.max_message_size;
  CLI::App app{"weftd: an AMQP 0-9-1 message broker on the weft runtime"};
  app.set_config("--config", "", "Read options from a config file (key = value)");
  app.add_option("--amqp-listen", cfg.amqp_listen, "AMQP listener address")->capture_default_str();
  app.add_option("--http-listen", http_listen,
                 "HTTP admin and /debug listener (profiles, fiber dumps, vars; empty: off)")
      ->capture_default_str();
  app.add_option("--heartbeat", cfg.heartbeat, "Heartbeat offered to clients, seconds (0: off)")
      ->capture_default_str();
  app.add_option("--frame-max", cfg.frame_max, "Largest frame accepted, bytes")
      ->capture_default_str()
      ->check(CLI::Range(4096u, 1u << 30));
  app.add_option("--channel-max", cfg.channel_max, "Channels per connection")->capture_default_str();
  app.add_option("--max-message-size", max_message_size, "Largest message body, bytes")
      ->capture_default_str();
  app.add_option("--memory-high-watermark", cfg.memory_high_watermark,
                 "Message bytes that block publishers (0: 40% of RAM)")
      ->capture_default_str();
  app.add_option("--queue-memory-window", cfg.queue_memory_window,
                 "Bytes of ready messages a queue keeps in memory; past that, new messages "
                 "go to an unlinked file in --page-dir until the queue reaches them (0: all "
                 "in memory)")
      ->capture_default_str();
  app.add_option("--page-dir", cfg.page_dir,
                 "Directory for queues' page files (default: $TMPDIR, else /tmp)");
  app.add_option("--default-user", cfg.default_user, "User name")->capture_default_str();
  app.add_option("--default-pass", cfg.default_pass, "Password")->capture_default_str();
  app.add_option("--log-level", log_level, "debug | info | warn | error")->capture_default_str();
  int poll_spin_us = 0;
  app.add_option("--poll-spin-us", poll_spin_us,
                 "Poll the sockets this long before sleeping when idle: no thread wake-up "
                 "for a request arriving meanwhile, for up to this much CPU per idle spell "
                 "(0: never; it costs more than it gains on 2 cores, docs/benchmarks.md)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cfg.max_message_size = max_message_size;
  weftd::LogLevel level;
  if (!weftd::parse_log_level(log_level.c_str(), &level)) {
    std::fprintf(stderr, "weftd: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  weftd::set_log_level(level);

  // Signals are taken by one fiber with sigwait; every thread the runtime starts
  // inherits this mask, so none of them is interrupted instead.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  int rc = 0;
  weft::Options opts;
  opts.poll_spin_us = poll_spin_us > 0 ? poll_spin_us : -1;
  weft::run(
      [&] {
        weftd::Broker broker(cfg);
        auto ln = weft::net::TcpListener::listen(cfg.amqp_listen);
        if (!ln) {
          log_error("listen %s: %s", cfg.amqp_listen.c_str(), ln.error().message().c_str());
          rc = 1;
          return;
        }
        log_info("weftd listening for AMQP on %s", ln->addr().to_string().c_str());

        // The admin port: /debug/pprof/... and /debug/vars. They expose internals (stacks,
        // command line, memory), so loopback is the default and anything else is warned of.
        weft::debug::HttpServer http;
        weft::debug::install(http);
        weft::debug::publish("weftd", [&broker] {
          nlohmann::json v = {{"connections", broker.connection_count()},
                              {"message_bytes", weftd::message_bytes().load()},
                              {"memory_high_watermark", broker.memory_high_watermark()},
                              {"memory_alarm", broker.memory_alarm()},
                              {"paged_messages", weftd::queue_paging_stats().messages.load()},
                              {"paged_bytes", weftd::queue_paging_stats().bytes.load()},
                              {"paged_total", weftd::queue_paging_stats().paged_total.load()}};
          return v.dump();
        });
        weft::net::TcpListener http_ln;
        weft::WaitGroup http_done;
        if (!http_listen.empty()) {
          auto hl = weft::net::TcpListener::listen(http_listen);
          if (!hl) {
            log_error("listen %s: %s", http_listen.c_str(), hl.error().message().c_str());
            ln->close();
            rc = 1;
            return;
          }
          http_ln = std::move(*hl);
          auto addr = http_ln.addr();
          bool loopback = addr.host().rfind("127.", 0) == 0 || addr.host() == "::1";
          if (!loopback) {
            log_warn(
                "the HTTP admin listener %s is not a loopback address: /debug exposes "
                "stacks, profiles and the command line to anyone who can reach it",
                addr.to_string().c_str());
          }
          log_info("weftd serving /debug on http://%s/debug/pprof/", addr.to_string().c_str());
          http_done.add(1);
          weft::go("weftd-http", [&, http_done] {
            http.serve(http_ln);
            http_done.done();
          });
        }
        std::fflush(stdout);
        weft::WaitGroup signalled;
        signalled.add(1);
        weft::go("weftd-signals", [&, signalled] {
          int sig = 0;
          weft::blocking([&] { sigwait(&sigs, &sig); });
          log_info("signal %d: closing connections", sig);
          ln->close();
          if (http_ln.valid()) http_ln.close();
          broker.close_all();
          signalled.done();
        });
        broker.serve(*ln);
        signalled.wait();
        http_done.wait();
        log_info("weftd stopped");
      },
      opts);
  return rc;
}
