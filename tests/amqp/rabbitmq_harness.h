// rabbitmq_harness.h: a private rabbitmq-server for a test binary -- free loopback ports
// for AMQP, Erlang distribution and epmd, its own mnesia/log/home directories under
// /tmp, no plugins -- started and stopped by the test (client_test.cpp's environment).
#pragma once

#include <sys/types.h>

#include <string>

#include "test_broker.h"

namespace weft_test {

class RabbitmqHarness : public BrokerHarness {
 public:
  // The server script: $WEFT_RABBITMQ_SERVER, else Debian's.
  static std::string default_server();

  explicit RabbitmqHarness(std::string server = default_server()) : server_(std::move(server)) {}
  ~RabbitmqHarness() override { stop(); }

  bool start() override;
  // stop() sends SIGTERM to the server's process group, SIGKILL to what is left of it
  // after 60 s, kills the private epmd and removes the directory (kept when
  // WEFT_KEEP_RABBITMQ_DIR is set). It always returns true: the script's exit status
  // after SIGTERM says nothing of interest.
  bool stop() override;

 private:
  std::string server_;
  pid_t pid_ = -1;
  int epmd_port_ = 0;
  std::string dir_, log_;
};

}  // namespace weft_test
