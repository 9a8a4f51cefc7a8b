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

#include "page_file.h"
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

  // The publisher's properties as they came on the wire (flags first, as
  // ContentAssembler::keep_properties_as_wire() leaves them): a delivery passes them on
  // byte for byte, and the broker decodes them only where it must read one (direct
  // reply-to, a headers exchange). Held so they cost a message no more than their bytes
  // (two for none, in the string itself), not a ~450-byte decoded struct.
  std::string properties_wire = std::string(2, '\0');

  std::uint16_t property_flags() const { return weft::amqp::Reader(properties_wire).u16(); }
  // properties(): decoded (they were checked when the header frame arrived).
  weft::amqp::BasicProperties properties() const {
    weft::amqp::Reader r(properties_wire);
    return weft::amqp::BasicProperties::decode(r);
  }
  void set_properties(const weft::amqp::BasicProperties& p) {
    properties_wire.clear();
    weft::amqp::Writer w(properties_wire);
    p.encode(w);
  }

  std::size_t size() const {
    return body.size() + exchange.size() + routing_key.size() + properties_wire.size() + 64;
  }
  // account() counts the message's size in message_bytes() until it is destroyed.
  void account() {
    accounted_ = static_cast<std::int64_t>(size());
    message_bytes().fetch_add(accounted_, std::memory_order_relaxed);
  }

 private:
  std::int64_t accounted_ = 0;
};
using MessagePtr = std::shared_ptr<const Message>;

// A message in a queue: the shared message plus what is per queue. A queue past its
// memory window keeps a message on disk instead (queue.h): `message` is then null and
// `page` says where it is, until the queue's head reaches it.
struct QueuedMessage {
  MessagePtr message;
  PageFile::Ref page;
  bool redelivered = false;
};

}  // namespace weftd
