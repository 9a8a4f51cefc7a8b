// amqp091/confirms.h: a channel's publisher confirms (RabbitMQ's rabbit_confirms).
//
// In confirm mode every publish takes the next sequence number; once the broker holds
// the message (for a transient queue: as soon as it is enqueued; a durable store will
// settle later, out of order), it is confirmed, and the channel sends basic.ack --
// coalesced with multiple=true -- when its connection's reader next runs out of input.
// Reader fiber only.
#pragma once

#include <cstdint>
#include <optional>

#include "weft/amqp/spec.h"

namespace weftd {

class Confirms {
 public:
  bool enabled() const { return enabled_; }
  void enable() { enabled_ = true; }
  // next() numbers a publish. REQUIRES: enabled().
  std::uint64_t next() { return ++published_; }
  // confirm_through() confirms every publish numbered up to seq.
  void confirm_through(std::uint64_t seq) { confirmed_ = seq; }
  // take_ack() is the basic.ack owed since the last one, if any; *count says how many
  // publishes it confirms.
  std::optional<weft::amqp::BasicAck> take_ack(std::uint64_t* count) {
    if (!enabled_ || confirmed_ == acked_) return std::nullopt;
    *count = confirmed_ - acked_;
    weft::amqp::BasicAck a{confirmed_, *count > 1};
    acked_ = confirmed_;
    return a;
  }

 private:
  bool enabled_ = false;
  std::uint64_t published_ = 0, confirmed_ = 0, acked_ = 0;
};

}  // namespace weftd
