// message.h: a published message, shared by every queue it was routed to.
//
// A message is immutable once published: queues hold shared pointers to one copy, and a
// delivery encodes straight from it. Its size is what the memory watermark counts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "weft/amqp/spec.h"

namespace weftd {

struct Message {
  std::string exchange;
  std::string routing_key;
  weft::amqp::BasicProperties properties;
  std::string body;

  std::size_t size() const { return body.size() + exchange.size() + routing_key.size() + 64; }
};
using MessagePtr = std::shared_ptr<const Message>;

// A message in a queue: the shared message plus what is per queue.
struct QueuedMessage {
  MessagePtr message;
  bool redelivered = false;
};

}  // namespace weftd
