// amqp091/channel.cpp: a channel's life -- construction, command dispatch, channel.flow
// and close (amqp091/channel.h). The commands of each AMQP class are in their own file.
#include "amqp091/channel.h"

#include <algorithm>
#include <mutex>

#include "amqp091/channel_consumer.h"

namespace weftd {

namespace amqp = weft::amqp;

Channel::Channel(const ChannelContext& ctx, std::uint16_t id)
    : ctx_(ctx),
      id_(id),
      labels_({{"connection", std::to_string(ctx.connection_id)}, {"channel", std::to_string(id)}}),
      stats_(ctx.metrics->add_channel(ctx.connection_id, id)) {
  assembler_.set_max_body_size(ctx.max_message_size);
  assembler_.keep_properties_as_wire(true);  // passed on as they came: core/message.h
}

Channel::~Channel() = default;

void Channel::handle(amqp::Command& cmd) {
  weft::ScopedLabels scope(labels_);  // CPU samples in here are this channel's
  std::visit([&](auto& m) { on(m, cmd); }, cmd.method);
}

void Channel::on(const amqp::ChannelFlow& m, Command&) {
  {
    std::lock_guard lock(mu_);
    flow_active_ = m.active;
  }
  send(amqp::ChannelFlowOk{m.active});
  if (m.active) redispatch();
}

void Channel::redispatch(std::vector<Queue*>* done) {
  std::vector<Queue*> local;
  if (!done) done = &local;
  for (auto& [tag, c] : consumers_) {
    Queue* q = c->queue.get();
    if (std::find(done->begin(), done->end(), q) != done->end()) continue;
    done->push_back(q);
    q->dispatch();
  }
}

void Channel::close() {
  if (!reply_token_.empty()) ctx_.reply_to->remove(reply_token_);
  reply_tag_.clear();
  std::vector<std::shared_ptr<ChannelConsumer>> cs;
  for (auto& [t, c] : consumers_) cs.push_back(c);
  consumers_.clear();
  stats_->consumers.set(0);
  for (auto& c : cs)
    if (c->queue->remove_consumer(c.get())) delete_queue_if_auto(c->queue);
  recover();  // unacked messages go back to their queues, redelivered
}

}  // namespace weftd
