// channel.cpp: the channel's commands (see channel.h). Reply codes and texts follow
// RabbitMQ's, so that clients which match on them keep working.
#include "channel.h"

#include <algorithm>
#include <mutex>
#include <random>
#include <set>

#include "broker.h"
#include "vhost.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

// ChannelConsumer: a basic.consume, as its queue sees it.
class ChannelConsumer final : public QueueConsumer,
                              public std::enable_shared_from_this<ChannelConsumer> {
 public:
  ChannelConsumer(Channel& ch, std::shared_ptr<Queue> q, std::string tag, bool no_ack,
                  std::uint16_t prefetch)
      : ch(ch), queue(std::move(q)), tag(std::move(tag)), no_ack(no_ack), prefetch(prefetch) {}
  bool has_credit() override { return ch.consumer_has_credit(*this, queue); }
  void deliver(Queue&, QueuedMessage m) override { ch.consumer_deliver(*this, queue, std::move(m)); }
  void cancelled_by_server() override { ch.consumer_cancelled_by_server(*this); }

  Channel& ch;
  const std::shared_ptr<Queue> queue;
  const std::string tag;
  const bool no_ack;
  const std::uint16_t prefetch;
  std::size_t unacked = 0;  // guarded by the channel's mu_
  bool active = false;      // guarded by the channel's mu_: consume-ok has been sent
};

namespace {

[[noreturn]] void fail(ReplyCode code, std::string text) {
  throw AmqpException{code, std::move(text)};
}

std::string quoted(const std::string& kind, const std::string& name, const VHost& vh) {
  return kind + " '" + name + "' in vhost '" + vh.name() + "'";
}

std::string random_suffix() {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s(22, ' ');
  for (char& c : s) c = kChars[rng() % 64];
  return s;
}

const char* yes(bool b) { return b ? "true" : "false"; }

constexpr const char* kReplyTo = "amq.rabbitmq.reply-to";

}  // namespace

Channel::Channel(Connection& conn, std::uint16_t id)
    : conn_(conn),
      id_(id),
      labels_({{"connection", std::to_string(conn.id())}, {"channel", std::to_string(id)}}) {
  assembler_.set_max_body_size(conn.broker().config().max_message_size);
  assembler_.keep_properties_as_wire(true);  // passed on as they came: message.h
}

Channel::~Channel() = default;

// ---- dispatch -----------------------------------------------------------------------

void Channel::handle(amqp::Command& cmd) {
  weft::ScopedLabels scope(labels_);  // CPU samples in here are this channel's
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, amqp::ChannelFlow>) {
          {
            std::lock_guard lock(mu_);
            flow_active_ = m.active;
          }
          send(amqp::ChannelFlowOk{m.active});
          if (m.active)
            for (auto& [tag, c] : consumers_) c->queue->dispatch();
        } else if constexpr (std::is_same_v<M, amqp::ChannelFlowOk>) {
        } else if constexpr (std::is_same_v<M, amqp::ExchangeDeclare>) {
          exchange_declare(m);
        } else if constexpr (std::is_same_v<M, amqp::ExchangeDelete>) {
          exchange_delete(m);
        } else if constexpr (std::is_same_v<M, amqp::ExchangeBind>) {
          exchange_bind(m.destination, m.source, m.routing_key, m.arguments, true);
          if (!m.no_wait) send(amqp::ExchangeBindOk{});
        } else if constexpr (std::is_same_v<M, amqp::ExchangeUnbind>) {
          exchange_bind(m.destination, m.source, m.routing_key, m.arguments, false);
          if (!m.no_wait) send(amqp::ExchangeUnbindOk{});
        } else if constexpr (std::is_same_v<M, amqp::QueueDeclare>) {
          queue_declare(m);
        } else if constexpr (std::is_same_v<M, amqp::QueueBind>) {
          queue_bind(m.queue, m.exchange, m.routing_key, m.arguments, true);
          if (!m.no_wait) send(amqp::QueueBindOk{});
        } else if constexpr (std::is_same_v<M, amqp::QueueUnbind>) {
          queue_bind(m.queue, m.exchange, m.routing_key, m.arguments, false);
          send(amqp::QueueUnbindOk{});
        } else if constexpr (std::is_same_v<M, amqp::QueuePurge>) {
          queue_purge(m);
        } else if constexpr (std::is_same_v<M, amqp::QueueDelete>) {
          queue_delete(m);
        } else if constexpr (std::is_same_v<M, amqp::BasicQos>) {
          {
            std::lock_guard lock(mu_);
            (m.global ? global_prefetch_ : prefetch_count_) = m.prefetch_count;
          }
          send(amqp::BasicQosOk{});
          for (auto& [tag, c] : consumers_) c->queue->dispatch();
        } else if constexpr (std::is_same_v<M, amqp::BasicPublish>) {
          if (m.immediate) fail(ReplyCode::not_implemented, "immediate=true");
          auto msg = std::make_shared<Message>();
          msg->exchange = m.exchange;
          msg->routing_key = m.routing_key;
          msg->properties_wire = cmd.content.properties_wire.take();
          msg->body = cmd.content.body.take();
          conn_.note_publisher();
          if (msg->property_flags() & amqp::BasicProperties::kFlagReplyTo) {
            amqp::BasicProperties props = msg->properties();
            if (*props.reply_to == kReplyTo) {
              if (reply_token_.empty())
                fail(ReplyCode::precondition_failed, "fast reply consumer does not exist");
              props.reply_to = std::string(kReplyTo) + "." + reply_token_;
              msg->set_properties(props);
            }
          }
          msg->account();
          if (tx_)
            tx_publishes_.push_back(Pending{m.exchange, m.mandatory, std::move(msg)});
          else
            basic_publish(m.exchange, m.mandatory, std::move(msg));
        } else if constexpr (std::is_same_v<M, amqp::BasicConsume>) {
          basic_consume(m);
        } else if constexpr (std::is_same_v<M, amqp::BasicCancel>) {
          basic_cancel(m.consumer_tag, m.no_wait, false);
        } else if constexpr (std::is_same_v<M, amqp::BasicGet>) {
          basic_get(m);
        } else if constexpr (std::is_same_v<M, amqp::BasicAck>) {
          if (tx_)
            tx_settles_.push_back({m.delivery_tag, m.multiple, true, false});
          else
            settle(m.delivery_tag, m.multiple, true, false);
        } else if constexpr (std::is_same_v<M, amqp::BasicNack>) {
          if (tx_)
            tx_settles_.push_back({m.delivery_tag, m.multiple, false, m.requeue});
          else
            settle(m.delivery_tag, m.multiple, false, m.requeue);
        } else if constexpr (std::is_same_v<M, amqp::BasicReject>) {
          if (tx_)
            tx_settles_.push_back({m.delivery_tag, false, false, m.requeue});
          else
            settle(m.delivery_tag, false, false, m.requeue);
        } else if constexpr (std::is_same_v<M, amqp::BasicRecover> ||
                             std::is_same_v<M, amqp::BasicRecoverAsync>) {
          if (!m.requeue) fail(ReplyCode::not_implemented, "requeue=false");
          recover();
          if constexpr (std::is_same_v<M, amqp::BasicRecover>) send(amqp::BasicRecoverOk{});
        } else if constexpr (std::is_same_v<M, amqp::ConfirmSelect>) {
          if (tx_)
            fail(ReplyCode::precondition_failed,
                 "cannot switch from tx to confirm mode");
          confirm_ = true;
          if (!m.nowait) send(amqp::ConfirmSelectOk{});
        } else if constexpr (std::is_same_v<M, amqp::TxSelect>) {
          if (confirm_)
            fail(ReplyCode::precondition_failed, "cannot switch from confirm to tx mode");
          tx_ = true;
          send(amqp::TxSelectOk{});
        } else if constexpr (std::is_same_v<M, amqp::TxCommit>) {
          if (!tx_) fail(ReplyCode::precondition_failed, "channel is not transactional");
          auto pubs = std::move(tx_publishes_);
          auto settles = std::move(tx_settles_);
          tx_publishes_.clear();
          tx_settles_.clear();
          for (Pending& p : pubs) basic_publish(p.exchange, p.mandatory, std::move(p.message));
          for (const Settle& s : settles) settle(s.tag, s.multiple, s.ack, s.requeue);
          send(amqp::TxCommitOk{});
        } else if constexpr (std::is_same_v<M, amqp::TxRollback>) {
          if (!tx_) fail(ReplyCode::precondition_failed, "channel is not transactional");
          tx_publishes_.clear();
          tx_settles_.clear();
          send(amqp::TxRollbackOk{});
        } else {
          fail(ReplyCode::command_invalid,
               std::string("unexpected method ") + M::kName + " on a channel");
        }
      },
      cmd.method);
}

// ---- exchanges ----------------------------------------------------------------------

void Channel::exchange_declare(const amqp::ExchangeDeclare& m) {
  VHost& vh = conn_.vhost();
  if (m.exchange.empty()) fail(ReplyCode::access_refused, "operation not permitted on the default exchange");
  ExchangeType type;
  ExchangePtr existing = vh.find_exchange(m.exchange);
  if (m.passive) {
    if (!existing) fail(ReplyCode::not_found, "no " + quoted("exchange", m.exchange, vh));
    if (!m.no_wait) send(amqp::ExchangeDeclareOk{});
    return;
  }
  if (!parse_exchange_type(m.type, &type))
    fail(ReplyCode::command_invalid, "unknown exchange type '" + m.type + "'");
  if (!existing && m.exchange.rfind("amq.", 0) == 0)
    fail(ReplyCode::access_refused, "exchange name '" + m.exchange + "' contains reserved prefix 'amq.*'");
  ExchangeOptions opts;
  opts.durable = m.durable;
  opts.auto_delete = m.auto_delete;
  opts.internal = m.internal;
  opts.arguments = m.arguments;
  bool created = false;
  ExchangePtr e = vh.declare_exchange(m.exchange, type, opts, &created);
  if (!created) {
    auto inequivalent = [&](const char* arg, const std::string& got, const std::string& cur) {
      fail(ReplyCode::precondition_failed, "inequivalent arg '" + std::string(arg) + "' for " +
                                               quoted("exchange", m.exchange, vh) + ": received '" +
                                               got + "' but current is '" + cur + "'");
    };
    if (e->type() != type) inequivalent("type", m.type, to_string(e->type()));
    if (e->options().durable != m.durable)
      inequivalent("durable", yes(m.durable), yes(e->options().durable));
    if (e->options().auto_delete != m.auto_delete)
      inequivalent("auto_delete", yes(m.auto_delete), yes(e->options().auto_delete));
    if (e->options().internal != m.internal)
      inequivalent("internal", yes(m.internal), yes(e->options().internal));
    Exchange asked(m.exchange, type, opts);
    if (e->alternate_exchange() != asked.alternate_exchange())
      inequivalent("alternate-exchange", asked.alternate_exchange(), e->alternate_exchange());
  }
  if (!m.no_wait) send(amqp::ExchangeDeclareOk{});
}

void Channel::exchange_delete(const amqp::ExchangeDelete& m) {
  VHost& vh = conn_.vhost();
  if (m.exchange.empty() || m.exchange.rfind("amq.", 0) == 0)
    fail(ReplyCode::access_refused, "operation not permitted on " + quoted("exchange", m.exchange, vh));
  if (ExchangePtr e = vh.find_exchange(m.exchange)) {
    if (m.if_unused && e->binding_count() > 0)
      fail(ReplyCode::precondition_failed, quoted("exchange", m.exchange, vh) + " in use");
    vh.delete_exchange(e);
  }
  if (!m.no_wait) send(amqp::ExchangeDeleteOk{});  // idempotent, as in RabbitMQ
}

void Channel::exchange_bind(const std::string& dest, const std::string& src, const std::string& key,
                            const amqp::FieldTable& args, bool bind) {
  VHost& vh = conn_.vhost();
  if (dest.empty() || src.empty())
    fail(ReplyCode::access_refused, "operation not permitted on the default exchange");
  ExchangePtr d = vh.find_exchange(dest), s = vh.find_exchange(src);
  if (!d) fail(ReplyCode::not_found, "no " + quoted("exchange", dest, vh));
  if (!s) fail(ReplyCode::not_found, "no " + quoted("exchange", src, vh));
  if (!bind)
    vh.unbind(s, Destination{nullptr, d}, key, args);
  else if (!vh.bind(s, Destination{nullptr, d}, key, args))  // one was deleted meanwhile
    fail(ReplyCode::not_found, "no " + quoted("exchange", vh.find_exchange(src) ? dest : src, vh));
}

// ---- queues -------------------------------------------------------------------------

std::shared_ptr<Queue> Channel::queue_for_use(const std::string& requested) {
  VHost& vh = conn_.vhost();
  const std::string& name = requested.empty() ? last_queue_ : requested;
  if (name.empty()) fail(ReplyCode::not_found, "no previously declared queue");
  QueuePtr q = vh.find_queue(name);
  if (!q) fail(ReplyCode::not_found, "no " + quoted("queue", name, vh));
  if (q->options().exclusive && q->options().owner != conn_.id())
    fail(ReplyCode::resource_locked, "cannot obtain exclusive access to locked " +
                                         quoted("queue", name, vh) +
                                         ". It could be originally declared on another "
                                         "connection or the exclusive property value does not "
                                         "match that of the original declaration.");
  return q;
}

void Channel::queue_declare(const amqp::QueueDeclare& m) {
  VHost& vh = conn_.vhost();
  std::string name = m.queue;
  QueuePtr q;
  if (m.passive) {
    q = queue_for_use(name);
  } else {
    if (name.empty()) name = "amq.gen-" + random_suffix();
    else if (name.rfind("amq.", 0) == 0)
      fail(ReplyCode::access_refused, "queue name '" + name + "' contains reserved prefix 'amq.*'");
    QueueOptions opts;
    opts.durable = m.durable;
    opts.exclusive = m.exclusive;
    opts.auto_delete = m.auto_delete;
    opts.owner = m.exclusive ? conn_.id() : 0;
    opts.arguments = m.arguments;
    bool created = false;
    q = vh.declare_queue(name, opts, &created);
    if (!created) {
      q = queue_for_use(name);  // exclusive to someone else: 405
      auto inequivalent = [&](const char* arg, bool got, bool cur) {
        fail(ReplyCode::precondition_failed, "inequivalent arg '" + std::string(arg) + "' for " +
                                                 quoted("queue", name, vh) + ": received '" +
                                                 yes(got) + "' but current is '" + yes(cur) + "'");
      };
      if (q->options().durable != m.durable) inequivalent("durable", m.durable, q->options().durable);
      if (q->options().exclusive != m.exclusive)
        inequivalent("exclusive", m.exclusive, q->options().exclusive);
      if (q->options().auto_delete != m.auto_delete)
        inequivalent("auto_delete", m.auto_delete, q->options().auto_delete);
    }
  }
  last_queue_ = q->name();
  if (!m.no_wait)
    send(amqp::QueueDeclareOk{q->name(), static_cast<std::uint32_t>(q->message_count()),
                              static_cast<std::uint32_t>(q->consumer_count())});
}

void Channel::queue_bind(const std::string& queue, const std::string& exchange,
                         const std::string& key, const amqp::FieldTable& args, bool bind) {
  VHost& vh = conn_.vhost();
  QueuePtr q = queue_for_use(queue);
  if (exchange.empty())
    fail(ReplyCode::access_refused, "operation not permitted on the default exchange");
  ExchangePtr e = vh.find_exchange(exchange);
  if (!e) fail(ReplyCode::not_found, "no " + quoted("exchange", exchange, vh));
  // An empty routing key with an empty queue name binds with the queue's name (spec).
  const std::string& k = key.empty() && queue.empty() ? q->name() : key;
  if (!bind)
    vh.unbind(e, Destination{q, nullptr}, k, args);
  else if (!vh.bind(e, Destination{q, nullptr}, k, args))  // deleted meanwhile
    fail(ReplyCode::not_found, "no " + quoted("queue", q->name(), vh));
}

void Channel::queue_purge(const amqp::QueuePurge& m) {
  QueuePtr q = queue_for_use(m.queue);
  std::size_t n = q->purge();
  if (!m.no_wait) send(amqp::QueuePurgeOk{static_cast<std::uint32_t>(n)});
}

void Channel::queue_delete(const amqp::QueueDelete& m) {
  VHost& vh = conn_.vhost();
  const std::string& name = m.queue.empty() ? last_queue_ : m.queue;
  QueuePtr q = vh.find_queue(name);
  std::size_t n = 0;
  if (q) {
    q = queue_for_use(name);
    if (m.if_unused && q->consumer_count() > 0)
      fail(ReplyCode::precondition_failed, quoted("queue", name, vh) + " in use");
    if (m.if_empty && q->message_count() > 0)
      fail(ReplyCode::precondition_failed, quoted("queue", name, vh) + " is not empty");
    n = vh.delete_queue(q);
  }
  if (!m.no_wait) send(amqp::QueueDeleteOk{static_cast<std::uint32_t>(n)});
}

void Channel::delete_queue_if_auto(const std::shared_ptr<Queue>& q) {
  if (q->options().auto_delete) conn_.vhost().delete_queue(q);
}

// ---- publishing ---------------------------------------------------------------------

void Channel::basic_publish(const std::string& exchange, bool mandatory, MessagePtr m) {
  VHost& vh = conn_.vhost();
  ExchangePtr e = vh.find_exchange(exchange);
  if (!e) fail(ReplyCode::not_found, "no " + quoted("exchange", exchange, vh));
  if (e->options().internal)
    fail(ReplyCode::access_refused, "cannot publish to internal " + quoted("exchange", exchange, vh));
  if (confirm_) publish_seq_++;
  const std::string reply_prefix = std::string(kReplyTo) + ".";
  if (exchange.empty() && m->routing_key.rfind(reply_prefix, 0) == 0) {
    // Direct reply-to: straight to the requester's channel, no queue.
    if (!conn_.broker().deliver_reply_to(m->routing_key.substr(reply_prefix.size()), m) &&
        mandatory) {
      amqp::BasicReturn r;
      r.reply_code = static_cast<std::uint16_t>(ReplyCode::no_route);
      r.reply_text = "NO_ROUTE";
      r.routing_key = m->routing_key;
      conn_.send_content(id_, r, m->properties_wire, m->body);
    }
    if (confirm_) confirmed_ = publish_seq_;
    return;
  }
  std::vector<QueuePtr> queues;
  vh.route(e, *m, &queues);
  if (queues.empty() && mandatory) {
    amqp::BasicReturn r;
    r.reply_code = static_cast<std::uint16_t>(ReplyCode::no_route);
    r.reply_text = "NO_ROUTE";
    r.exchange = m->exchange;
    r.routing_key = m->routing_key;
    conn_.send_content(id_, r, m->properties_wire, m->body);
  }
  for (const QueuePtr& q : queues)
    if (q->enqueue(m)) conn_.note_flow(q);
  // Transient queues hold the message as soon as it is enqueued: confirm it now (the
  // ack goes out, coalesced, when the reader next runs out of input).
  if (confirm_) confirmed_ = publish_seq_;
}

void Channel::flush_confirms() {
  if (!confirm_ || confirmed_ == acked_) return;
  send(amqp::BasicAck{confirmed_, confirmed_ - acked_ > 1});
  acked_ = confirmed_;
}

// ---- consuming ----------------------------------------------------------------------

void Channel::basic_consume(const amqp::BasicConsume& m) {
  if (m.queue == kReplyTo) {
    if (!m.no_ack) fail(ReplyCode::precondition_failed, "reply consumer cannot acknowledge");
    if (!reply_tag_.empty()) fail(ReplyCode::precondition_failed, "reply consumer already set");
    reply_tag_ = m.consumer_tag.empty() ? "amq.ctag-" + random_suffix() : m.consumer_tag;
    reply_token_ = random_suffix() + std::to_string(conn_.id()) + "-" + std::to_string(id_);
    if (!m.no_wait) send(amqp::BasicConsumeOk{reply_tag_});
    conn_.broker().register_reply_to(reply_token_, this);
    return;
  }
  QueuePtr q = queue_for_use(m.queue);
  std::string tag = m.consumer_tag.empty() ? "amq.ctag-" + random_suffix() : m.consumer_tag;
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
         "queue '" + q->name() + "' in vhost '" + conn_.vhost().name() + "' in exclusive use");
  consumers_[tag] = c;
  if (!m.no_wait) send(amqp::BasicConsumeOk{tag});
  {
    std::lock_guard lock(mu_);
    c->active = true;
  }
  q->dispatch();
}

void Channel::basic_cancel(const std::string& tag, bool no_wait, bool notify_client) {
  if (!reply_tag_.empty() && tag == reply_tag_) {
    conn_.broker().unregister_reply_to(reply_token_);
    reply_tag_.clear();
  }
  auto it = consumers_.find(tag);
  if (it != consumers_.end()) {
    std::shared_ptr<ChannelConsumer> c = it->second;
    consumers_.erase(it);
    if (c->queue->remove_consumer(c.get())) delete_queue_if_auto(c->queue);
  }
  if (notify_client)
    send(amqp::BasicCancel{tag, true});
  else if (!no_wait)
    send(amqp::BasicCancelOk{tag});
}

void Channel::basic_get(const amqp::BasicGet& m) {
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
  conn_.send_content(id_, ok, qm->message->properties_wire, qm->message->body);
  if (!m.no_ack) unacked_.emplace(tag, Unacked{q, std::move(*qm), nullptr});
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
  return !conn_.backlogged(q);
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
  conn_.send_content(id_, d, m.message->properties_wire, m.message->body);
  if (!c.no_ack) {
    c.unacked++;
    global_unacked_++;
    unacked_.emplace(tag, Unacked{q, std::move(m), c.shared_from_this()});
  }
}

void Channel::consumer_cancelled_by_server(ChannelConsumer& c) {
  // The queue was deleted (by any connection): the client hears basic.cancel if it
  // asked for consumer_cancel_notify. The consumer entry goes when the reader next
  // handles a command; here only the notice is sent.
  if (conn_.consumer_cancel_notify()) conn_.send_method(id_, amqp::BasicCancel{c.tag, true});
}

// ---- acknowledgements ---------------------------------------------------------------

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
  }
  std::set<Queue*> kick;
  std::vector<std::shared_ptr<Queue>> queues;
  if (!ack && requeue) {
    // Back to their queues in delivery order, grouped per queue.
    std::map<Queue*, std::vector<QueuedMessage>> back;
    for (Unacked& u : taken) {
      back[u.queue.get()].push_back(std::move(u.message));
      if (kick.insert(u.queue.get()).second) queues.push_back(u.queue);
    }
    for (auto& q : queues) q->requeue(std::move(back[q.get()]));
  }
  // Credit was freed: every queue this channel consumes from may deliver again.
  for (auto& [t, c] : consumers_)
    if (kick.insert(c->queue.get()).second) c->queue->dispatch();
}

void Channel::recover() { settle(0, true, false, true); }

void Channel::deliver_reply(const MessagePtr& m) {
  std::lock_guard lock(mu_);
  amqp::BasicDeliver d;
  d.consumer_tag = reply_tag_;
  d.delivery_tag = ++delivery_tag_;
  d.exchange = m->exchange;
  d.routing_key = m->routing_key;
  conn_.send_content(id_, d, m->properties_wire, m->body);
}

void Channel::close() {
  if (!reply_token_.empty()) conn_.broker().unregister_reply_to(reply_token_);
  reply_tag_.clear();
  std::vector<std::shared_ptr<ChannelConsumer>> cs;
  for (auto& [t, c] : consumers_) cs.push_back(c);
  consumers_.clear();
  for (auto& c : cs)
    if (c->queue->remove_consumer(c.get())) delete_queue_if_auto(c->queue);
  recover();  // unacked messages go back to their queues, redelivered
}

}  // namespace weftd
