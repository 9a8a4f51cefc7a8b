// weftd_harness.h: a real weftd process for a test binary, as tests/broker/weftd_process.py
// starts one for the third-party client tests: on a free loopback port, with the HTTP
// admin listener off, its output in a temporary log; stopped with SIGTERM, after which
// it must exit 0.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "test_broker.h"

namespace weft_test {

class WeftdHarness : public BrokerHarness {
 public:
  // binary: the weftd executable; extra_args: more flags for it.
  explicit WeftdHarness(std::string binary, std::vector<std::string> extra_args = {})
      : binary_(std::move(binary)), extra_(std::move(extra_args)) {}
  ~WeftdHarness() override { stop(); }

  // start() runs `weftd --amqp-listen 127.0.0.1:PORT --http-listen "" EXTRA...` and
  // waits (30 s at most) until PORT accepts connections.
  bool start() override;
  // stop() sends SIGTERM to weftd's pid and waits for it (30 s, then SIGKILL); false
  // unless it exited with status 0, why() then holding the status and its log's tail.
  bool stop() override;
  pid_t pid() const { return pid_; }

 private:
  std::string binary_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  std::string log_;
};

}  // namespace weft_test
