// core/message.h: a published message, shared by every queue it was routed to.
//
// A message is immutable once published: queues hold shared pointers to one copy, and a
// delivery encodes straight from it. Its size is what the memory watermark counts: every
// message adds it to the broker's message_bytes gauge (metrics/metrics.h) when published
// (account()) and takes it away when its last reference goes -- in a queue, unacked, or
// being written counts alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "metrics/metrics.h"
#include "weft/amqp/spec.h"

namespace weftd {

struct Message {
  std::string exchange;
  std::string routing_key;
  std::string body;

  Message() = default;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() {
    if (gauge_) gauge_->add(-accounted_);
  }

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
  // account() counts the message's size in `gauge` until it is destroyed.
  // REQUIRES: not accounted yet.
  void account(metrics::SharedGauge& gauge) {
    accounted_ = static_cast<std::int64_t>(size());
    gauge_ = &gauge;
    gauge.add(accounted_);
  }

 private:
  metrics::SharedGauge* gauge_ = nullptr;
  std::int64_t accounted_ = 0;
};
using MessagePtr = std::shared_ptr<const Message>;

// A message as a queue hands it out (and takes it back on requeue): the shared message
// plus what is per queue. store_id is the queue store's name for it (core/queue_store.h),
// which an ack passes back; 0 where the store needs none.
struct QueuedMessage {
  MessagePtr message;
  std::uint64_t store_id = 0;
  bool redelivered = false;
};

}  // namespace weftd
