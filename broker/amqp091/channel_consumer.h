// amqp091/channel_consumer.h: a basic.consume, as its queue sees it -- the amqp091 side
// of core's QueueConsumer seam. The queue calls it with the queue's lock held; it
// forwards to its channel, whose lock ranks after the queue's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "amqp091/channel.h"
#include "core/queue_consumer.h"

namespace weftd {

class ChannelConsumer final : public QueueConsumer,
                              public std::enable_shared_from_this<ChannelConsumer> {
 public:
  ChannelConsumer(Channel& ch, std::shared_ptr<Queue> q, std::string tag, bool no_ack,
                  std::uint16_t prefetch)
      : ch(ch), queue(std::move(q)), tag(std::move(tag)), no_ack(no_ack), prefetch(prefetch) {}
  bool has_credit() override { return ch.consumer_has_credit(*this, queue); }
  void deliver(Queue&, QueuedMessage m) override {
    ch.consumer_deliver(*this, queue, std::move(m));
  }
  void cancelled_by_server() override { ch.consumer_cancelled_by_server(*this); }

  Channel& ch;
  const std::shared_ptr<Queue> queue;
  const std::string tag;
  const bool no_ack;
  const std::uint16_t prefetch;
  std::size_t unacked = 0;  // guarded by the channel's mu_
  bool active = false;      // guarded by the channel's mu_: consume-ok has been sent
};

}  // namespace weftd
