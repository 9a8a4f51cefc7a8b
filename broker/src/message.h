// message.h: a published message, shared by every queue it was routed to.
//
// A message is immutable once published: queues hold shared pointers to one copy, and a
// delivery encodes straight from it. Its size is what the memory watermark counts: every
// message adds it to message_bytes() when published (account()) and takes it away when
// its last reference goes -- in a queue, unacked, or being written counts alike.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "weft/amqp/spec.h"

namespace weftd {

// message_bytes(): the bytes held by live messages, for the memory alarm.
inline std::atomic<std::int64_t>& message_bytes() {
  static std::atomic<std::int64_t> bytes{0};
  return bytes;
}

struct Message {
  std::string exchange;
  std::string routing_key;
  std::string body;

  Message() = default;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { message_bytes().fetch_sub(accounted_, std::memory_order_relaxed); }

  // Properties are held only when the publisher set some: most messages have none or a
  // few, and the decoded struct is ~450 bytes -- a third of a 1 KiB message's footprint.
  const weft::amqp::BasicProperties& properties() const {
    static const weft::amqp::BasicProperties kNone;
    return props_ ? *props_ : kNone;
  }
  void set_properties(weft::amqp::BasicProperties&& p) {
    if (p.flags() != 0) props_ = std::make_unique<weft::amqp::BasicProperties>(std::move(p));
  }
  weft::amqp::BasicProperties& mutable_properties() {
    if (!props_) props_ = std::make_unique<weft::amqp::BasicProperties>();
    return *props_;
  }

  std::size_t size() const {
    return body.size() + exchange.size() + routing_key.size() + 64 +
           (props_ ? sizeof(weft::amqp::BasicProperties) : 0);
  }
  // account() counts the message's size in message_bytes() until it is destroyed.
  void account() {
    accounted_ = static_cast<std::int64_t>(size());
    message_bytes().fetch_add(accounted_, std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<weft::amqp::BasicProperties> props_;
  std::int64_t accounted_ = 0;
};
using MessagePtr = std::shared_ptr<const Message>;

// A message in a queue: the shared message plus what is per queue.
struct QueuedMessage {
  MessagePtr message;
  bool redelivered = false;
};

}  // namespace weftd
