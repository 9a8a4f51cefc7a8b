// amqp091/channel_queue.cpp: the queue class's commands (amqp091/channel.h).
#include <random>

#include "amqp091/channel.h"
#include "amqp091/server_names.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

std::shared_ptr<Queue> Channel::queue_for_use(const std::string& requested) {
  VHost& vh = *ctx_.vhost;
  const std::string& name = requested.empty() ? last_queue_ : requested;
  if (name.empty()) fail(ReplyCode::not_found, "no previously declared queue");
  QueuePtr q = vh.find_queue(name);
  if (!q) fail(ReplyCode::not_found, text::no("queue", name, vh));
  if (q->options().exclusive && q->options().owner != ctx_.connection_id)
    fail(ReplyCode::resource_locked, "cannot obtain exclusive access to locked " +
                                         text::quoted("queue", name, vh) +
                                         ". It could be originally declared on another "
                                         "connection or the exclusive property value does not "
                                         "match that of the original declaration.");
  return q;
}

void Channel::on(const amqp::QueueDeclare& m, Command&) {
  VHost& vh = *ctx_.vhost;
  std::string name = m.queue;
  QueuePtr q;
  if (m.passive) {
    q = queue_for_use(name);
  } else {
    if (name.empty())
      name = "amq.gen-" + random_name_suffix();
    else if (name.rfind("amq.", 0) == 0)
      fail(ReplyCode::access_refused, text::reserved_prefix("queue", name));
    QueueOptions opts;
    opts.durable = m.durable;
    opts.exclusive = m.exclusive;
    opts.auto_delete = m.auto_delete;
    opts.owner = m.exclusive ? ctx_.connection_id : 0;
    opts.arguments = m.arguments;
    bool created = false;
    q = vh.declare_queue(name, opts, &created);
    if (!created) {
      q = queue_for_use(name);  // exclusive to someone else: 405
      auto inequivalent = [&](const char* arg, bool got, bool cur) {
        fail(ReplyCode::precondition_failed,
             text::inequivalent(arg, "queue", name, vh, text::yes(got), text::yes(cur)));
      };
      if (q->options().durable != m.durable)
        inequivalent("durable", m.durable, q->options().durable);
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

void Channel::on(const amqp::QueueBind& m, Command&) {
  queue_bind(m.queue, m.exchange, m.routing_key, m.arguments, true);
  if (!m.no_wait) send(amqp::QueueBindOk{});
}

void Channel::on(const amqp::QueueUnbind& m, Command&) {
  queue_bind(m.queue, m.exchange, m.routing_key, m.arguments, false);
  send(amqp::QueueUnbindOk{});
}

void Channel::queue_bind(const std::string& queue, const std::string& exchange,
                         const std::string& key, const amqp::FieldTable& args, bool bind) {
  VHost& vh = *ctx_.vhost;
  QueuePtr q = queue_for_use(queue);
  if (exchange.empty()) fail(ReplyCode::access_refused, text::kDefaultExchange);
  ExchangePtr e = vh.find_exchange(exchange);
  if (!e) fail(ReplyCode::not_found, text::no("exchange", exchange, vh));
  // An empty routing key with an empty queue name binds with the queue's name (spec).
  const std::string& k = key.empty() && queue.empty() ? q->name() : key;
  if (!bind)
    vh.unbind(e, Destination{q, nullptr}, k, args);
  else if (!vh.bind(e, Destination{q, nullptr}, k, args))  // deleted meanwhile
    fail(ReplyCode::not_found, text::no("queue", q->name(), vh));
}

void Channel::on(const amqp::QueuePurge& m, Command&) {
  QueuePtr q = queue_for_use(m.queue);
  std::size_t n = q->purge();
  if (!m.no_wait) send(amqp::QueuePurgeOk{static_cast<std::uint32_t>(n)});
}

void Channel::on(const amqp::QueueDelete& m, Command&) {
  VHost& vh = *ctx_.vhost;
  const std::string& name = m.queue.empty() ? last_queue_ : m.queue;
  QueuePtr q = vh.find_queue(name);
  std::size_t n = 0;
  if (q) {
    q = queue_for_use(name);
    if (m.if_unused && q->consumer_count() > 0)
      fail(ReplyCode::precondition_failed, text::quoted("queue", name, vh) + " in use");
    if (m.if_empty && q->message_count() > 0)
      fail(ReplyCode::precondition_failed, text::quoted("queue", name, vh) + " is not empty");
    n = vh.delete_queue(q);
  }
  if (!m.no_wait) send(amqp::QueueDeleteOk{static_cast<std::uint32_t>(n)});
}

void Channel::delete_queue_if_auto(const std::shared_ptr<Queue>& q) {
  if (q->options().auto_delete) ctx_.vhost->delete_queue(q);
}

}  // namespace weftd
