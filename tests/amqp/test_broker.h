// test_broker.h: what the AMQP client tests need to run a broker process of their own --
// a free loopback port, a check that a port accepts connections, the tail of a log
// file -- and BrokerHarness, the interface of rabbitmq_harness.h and weftd_harness.h.
#pragma once

#include <cstddef>
#include <string>

namespace weft_test {

// free_port() returns a TCP port on 127.0.0.1 that was free a moment ago, or -1.
int free_port();

// port_accepts() tells whether something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

// tail_of() returns the last n bytes of the file at path ("" if it cannot be read).
std::string tail_of(const std::string& path, std::size_t n = 3000);

// BrokerHarness: one private broker process for a test binary.
class BrokerHarness {
 public:
  virtual ~BrokerHarness() = default;
  // start() boots the broker and returns once its AMQP port accepts connections; false
  // (and why() says why) if it could not.
  virtual bool start() = 0;
  // stop() stops it; false (and why() says why) if it did not stop cleanly. Idempotent.
  virtual bool stop() = 0;
  // port() is the AMQP port on 127.0.0.1, once started.
  int port() const { return port_; }
  const std::string& why() const { return why_; }

 protected:
  int port_ = 0;
  std::string why_ = "not started";
};

}  // namespace weft_test
