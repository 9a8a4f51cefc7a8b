// amqp091/channel_basic.cpp: the basic class's commands -- publishing, consuming,
// getting and settling -- and the deliveries queues make to this channel
// (amqp091/channel.h).
#include <algorithm>
#include <mutex>

#include "amqp091/channel.h"
#include "amqp091/channel_consumer.h"
#include "amqp091/server_names.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

// ---- publishing ---------------------------------------------------------------------

void Channel::on(const amqp::BasicPublish& m, Command& cmd) {
  if (m.immediate) fail(ReplyCode::not_implemented, "immediate=true");
  auto msg = std::make_shared<Message>();
  msg->exchange = m.exchange;
  msg->routing_key = m.routing_key;
  msg->properties_wire = cmd.content.properties_wire.take();
  msg->body = cmd.content.body.take();
  ctx_.publisher->publishes = true;
  if (msg->property_flags() & amqp::BasicProperties::kFlagReplyTo) {
    amqp::BasicProperties props = msg->properties();
    if (*props.reply_to == kReplyTo) {
      if (reply_token_.empty())
        fail(ReplyCode::precondition_failed, "fast reply consumer does not exist");
      props.reply_to = std::string(kReplyTo) + "." + reply_token_;
      msg->set_properties(props);
    }
  }
  msg->account(ctx_.memory->message_bytes());
  stats_->published.add();
  if (tx_)
    tx_publishes_.push_back(Pending{m.exchange, m.mandatory, std::move(msg)});
  else
    basic_publish(m.exchange, m.mandatory, std::move(msg));
}

void Channel::basic_return(const Message& m, bool with_exchange) {
  amqp::BasicReturn r;
  r.reply_code = static_cast<std::uint16_t>(ReplyCode::no_route);
  r.reply_text = "NO_ROUTE";
  if (with_exchange) r.exchange = m.exchange;
  r.routing_key = m.routing_key;
  ctx_.out->send_content(id_, r, m.properties_wire, m.body);
}

void Channel::basic_publish(const std::string& exchange, bool mandatory, MessagePtr m) {
  VHost& vh = *ctx_.vhost;
  ExchangePtr e = vh.find_exchange(exchange);
  if (!e) fail(ReplyCode::not_found, text::no("exchange", exchange, vh));
  if (e->options().internal)
    fail(ReplyCode::access_refused,
         "cannot publish to internal " + text::quoted("exchange", exchange, vh));
  const std::string reply_prefix = std::string(kReplyTo) + ".";
  if (exchange.empty() && m->routing_key.rfind(reply_prefix, 0) == 0) {
    // Direct reply-to: straight to the requester's channel, no queue.
    if (!ctx_.reply_to->deliver(m->routing_key.substr(reply_prefix.size()), m) && mandatory)
      basic_return(*m, false);
    published();
    return;
  }
  std::vector<QueuePtr> queues;
  vh.route(e, *m, &queues);
  if (queues.empty() && mandatory) basic_return(*m, true);
  for (const QueuePtr& q : queues)
    if (q->enqueue(m)) ctx_.publisher->flow_queue = q;
  published();
}

// ---- consuming ----------------------------------------------------------------------

void Channel::on(const amqp::BasicQos& m, Command&) {
  {
    std::lock_guard lock(mu_);
    (m.global ? global_prefetch_ : prefetch_count_) = m.prefetch_count;
  }
  send(amqp::BasicQosOk{});
  redispatch();
}

void Channel::on(const amqp::BasicConsume& m, Command&) {
  if (m.queue == kReplyTo) {
    if (!m.no_ack) fail(ReplyCode::precondition_failed, "reply consumer cannot acknowledge");
    if (!reply_tag_.empty()) fail(ReplyCode::precondition_failed, "reply consumer already set");
    reply_tag_ = m.consumer_tag.empty() ? "amq.ctag-" + random_name_suffix() : m.consumer_tag;
    reply_token_ =
        random_name_suffix() + std::to_string(ctx_.connection_id) + "-" + std::to_string(id_);
    if (!m.no_wait) send(amqp::BasicConsumeOk{reply_tag_});
    ctx_.reply_to->add(reply_token_, this);
    return;
  }
  QueuePtr q = queue_for_use(m.queue);
  std::string tag = m.consumer_tag.empty() ? "amq.ctag-" + random_name_suffix() : m.consumer_tag;
  if (consumers_.count(tag))
    fail(ReplyCode::not_allowed, "attempt to reuse consumer tag '" + tag + "'");
  std::uint16_t prefetch;
  {
    std::lock_guard lock(mu_);
    prefetch = prefetch_count_;
  }
  auto c = std::make_shared<ChannelConsumer>(*this, q, tag, m.no_ack, prefetch);
  // Registered inactive (no credit), so that consume-ok can go out after the queue has
  // accepted the consumer (or the channel is closed with 403 instead) and still before
  // its first delivery.
  if (!q->add_consumer(c, m.exclusive))
    fail(ReplyCode::access_refused,
         "queue '" + q->name() + "' in vhost '" + ctx_.vhost->name() + "' in exclusive use");
  consumers_[tag] = c;
  stats_->consumers.set(static_cast<std::int64_t>(consumers_.size()));
  if (!m.no_wait) send(amqp::BasicConsumeOk{tag});
  {
    std::lock_guard lock(mu_);
    c->active = true;
  }
  q->dispatch();
}

void Channel::on(const amqp::BasicCancel& m, Command&) {
  basic_cancel(m.consumer_tag, m.no_wait, false);
}

void Channel::basic_cancel(const std::string& tag, bool no_wait, bool notify_client) {
  if (!reply_tag_.empty() && tag == reply_tag_) {
    ctx_.reply_to->remove(reply_token_);
    reply_tag_.clear();
  }
  auto it = consumers_.find(tag);
  if (it != consumers_.end()) {
    std::shared_ptr<ChannelConsumer> c = it->second;
    consumers_.erase(it);
    stats_->consumers.set(static_cast<std::int64_t>(consumers_.size()));
    if (c->queue->remove_consumer(c.get())) delete_queue_if_auto(c->queue);
  }
  if (notify_client)
    send(amqp::BasicCancel{tag, true});
  else if (!no_wait)
    send(amqp::BasicCancelOk{tag});
}

void Channel::on(const amqp::BasicGet& m, Command&) {
  QueuePtr q = queue_for_use(m.queue);
  std::size_t remaining = 0;
  auto qm = q->get(&remaining);
  if (!qm) {
    send(amqp::BasicGetEmpty{});
    return;
  }
  std::lock_guard lock(mu_);
  const std::uint64_t tag = ++delivery_tag_;
  amqp::BasicGetOk ok;
  ok.delivery_tag = tag;
  ok.redelivered = qm->redelivered;
  ok.exchange = qm->message->exchange;
  ok.routing_key = qm->message->routing_key;
  ok.message_count = static_cast<std::uint32_t>(remaining);
  ctx_.out->send_content(id_, ok, qm->message->properties_wire, qm->message->body);
  stats_->got.add();
  if (!m.no_ack) {
    unacked_.emplace(tag, Unacked{q, std::move(*qm), nullptr});
    stats_->unacked.set(static_cast<std::int64_t>(unacked_.size()));
  }
}

bool Channel::consumer_has_credit(ChannelConsumer& c, const std::shared_ptr<Queue>& q) {
  {
    std::lock_guard lock(mu_);
    if (!flow_active_ || !c.active) return false;
    if (!c.no_ack) {
      if (c.prefetch && c.unacked >= c.prefetch) return false;
      if (global_prefetch_ && global_unacked_ >= global_prefetch_) return false;
    }
  }
  return !ctx_.out->backlogged(q);
}

void Channel::consumer_deliver(ChannelConsumer& c, const std::shared_ptr<Queue>& q,
                               QueuedMessage m) {
  std::lock_guard lock(mu_);
  const std::uint64_t tag = ++delivery_tag_;
  amqp::BasicDeliver d;
  d.consumer_tag = c.tag;
  d.delivery_tag = tag;
  d.redelivered = m.redelivered;
  d.exchange = m.message->exchange;
  d.routing_key = m.message->routing_key;
  ctx_.out->send_content(id_, d, m.message->properties_wire, m.message->body);
  stats_->delivered.add();
  if (!c.no_ack) {
    c.unacked++;
    global_unacked_++;
    unacked_.emplace(tag, Unacked{q, std::move(m), c.shared_from_this()});
    stats_->unacked.set(static_cast<std::int64_t>(unacked_.size()));
  }
  // No ack will come for a no-ack delivery, and the store's settle() is not called for
  // it: today's store records nothing (a durable one will need the queue to settle
  // such deliveries as it hands them out).
}

void Channel::consumer_cancelled_by_server(ChannelConsumer& c) {
  // The queue was deleted (by any connection): the client hears basic.cancel if it
  // asked for consumer_cancel_notify. The consumer entry goes when the reader next
  // handles a command; here only the notice is sent.
  if (ctx_.consumer_cancel_notify) ctx_.out->send_method(id_, amqp::BasicCancel{c.tag, true});
}

void Channel::deliver_reply(const MessagePtr& m) {
  std::lock_guard lock(mu_);
  amqp::BasicDeliver d;
  d.consumer_tag = reply_tag_;
  d.delivery_tag = ++delivery_tag_;
  d.exchange = m->exchange;
  d.routing_key = m->routing_key;
  ctx_.out->send_content(id_, d, m->properties_wire, m->body);
  stats_->delivered.add();
}

// ---- acknowledgements ---------------------------------------------------------------

void Channel::on(const amqp::BasicAck& m, Command&) {
  if (tx_)
    tx_settles_.push_back({m.delivery_tag, m.multiple, true, false});
  else
    settle(m.delivery_tag, m.multiple, true, false);
}

void Channel::on(const amqp::BasicNack& m, Command&) {
  if (tx_)
    tx_settles_.push_back({m.delivery_tag, m.multiple, false, m.requeue});
  else
    settle(m.delivery_tag, m.multiple, false, m.requeue);
}

void Channel::on(const amqp::BasicReject& m, Command&) {
  if (tx_)
    tx_settles_.push_back({m.delivery_tag, false, false, m.requeue});
  else
    settle(m.delivery_tag, false, false, m.requeue);
}

void Channel::on(const amqp::BasicRecover& m, Command&) {
  if (!m.requeue) fail(ReplyCode::not_implemented, "requeue=false");
  recover();
  send(amqp::BasicRecoverOk{});
}

void Channel::on(const amqp::BasicRecoverAsync& m, Command&) {
  if (!m.requeue) fail(ReplyCode::not_implemented, "requeue=false");
  recover();
}

void Channel::settle(std::uint64_t tag, bool multiple, bool ack, bool requeue) {
  std::vector<Unacked> taken;
  {
    std::lock_guard lock(mu_);
    if (multiple) {
      auto end = tag == 0 ? unacked_.end() : unacked_.upper_bound(tag);
      for (auto it = unacked_.begin(); it != end;) {
        taken.push_back(std::move(it->second));
        it = unacked_.erase(it);
      }
    } else {
      auto it = unacked_.find(tag);
      if (it == unacked_.end())
        fail(ReplyCode::precondition_failed, "unknown delivery tag " + std::to_string(tag));
      taken.push_back(std::move(it->second));
      unacked_.erase(it);
    }
    for (Unacked& u : taken)
      if (u.consumer) {
        u.consumer->unacked--;
        global_unacked_--;
      }
    stats_->unacked.set(static_cast<std::int64_t>(unacked_.size()));
  }
  if (ack) stats_->acked.add(taken.size());
  // To their queues in delivery order, grouped per queue: back at the head
  // (requeue), or settled for good in the store (ack, or reject without requeue).
  // Either way the queue dispatches again, as credit was freed.
  std::vector<Queue*> done;
  std::vector<std::pair<std::shared_ptr<Queue>, std::vector<QueuedMessage>>> per_queue;
  for (Unacked& u : taken) {
    auto it = std::find_if(per_queue.begin(), per_queue.end(),
                           [&](const auto& p) { return p.first == u.queue; });
    if (it == per_queue.end()) {
      per_queue.emplace_back(u.queue, std::vector<QueuedMessage>{});
      it = per_queue.end() - 1;
    }
    it->second.push_back(std::move(u.message));
  }
  for (auto& [q, ms] : per_queue) {
    if (!ack && requeue)
      q->requeue(std::move(ms));
    else
      q->settle(ms, ack);  // (the messages are freed here, outside the queue's lock)
    done.push_back(q.get());
  }
  // Credit was freed: every other queue this channel consumes from may deliver again.
  redispatch(&done);
}

void Channel::recover() { settle(0, true, false, true); }

}  // namespace weftd
