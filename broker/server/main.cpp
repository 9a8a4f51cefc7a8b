// weftd: the AMQP 0-9-1 broker.
//
//   weftd [--amqp-listen HOST:PORT] [--config FILE] [--heartbeat S] ...   (--help lists all)
//
// config/ parses and validates the flags and the config file; server/broker.h wires the
// rooms together. SIGTERM or SIGINT: stop accepting, ask every client to close (320
// CONNECTION_FORCED), wait for them, exit 0.
#include <signal.h>

#include <cstdio>
#include <string>

#include "base/log.h"
#include "config/config.h"
#include "http/admin.h"
#include "server/broker.h"
#include "weft/runtime.h"
#include "weft/waitgroup.h"

int main(int argc, char** argv) {
  weftd::Config cfg;
  if (auto status = weftd::parse(argc, argv, &cfg)) return *status;
  weftd::set_log_level(cfg.log_level);

  // Signals are taken by one fiber with sigwait; every thread the runtime starts
  // inherits this mask, so none of them is interrupted instead.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  int rc = 0;
  weft::Options opts;
  opts.poll_spin_us = cfg.poll_spin_us > 0 ? cfg.poll_spin_us : -1;
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

        weftd::AdminServer admin(broker.metrics());
        weft::net::TcpListener http_ln;
        weft::WaitGroup http_done;
        if (!cfg.http_listen.empty()) {
          auto hl = weft::net::TcpListener::listen(cfg.http_listen);
          if (!hl) {
            log_error("listen %s: %s", cfg.http_listen.c_str(), hl.error().message().c_str());
            ln->close();
            rc = 1;
            return;
          }
          http_ln = std::move(*hl);
          http_done.add(1);
          weft::go("weftd-http", [&, http_done] {
            admin.serve(http_ln);
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
