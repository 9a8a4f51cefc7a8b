// amqp091/channel_exchange.cpp: the exchange class's commands (amqp091/channel.h).
#include "amqp091/channel.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

void Channel::on(const amqp::ExchangeDeclare& m, Command&) {
  VHost& vh = *ctx_.vhost;
  if (m.exchange.empty()) fail(ReplyCode::access_refused, text::kDefaultExchange);
  ExchangeType type;
  ExchangePtr existing = vh.find_exchange(m.exchange);
  if (m.passive) {
    if (!existing) fail(ReplyCode::not_found, text::no("exchange", m.exchange, vh));
    if (!m.no_wait) send(amqp::ExchangeDeclareOk{});
    return;
  }
  if (!parse_exchange_type(m.type, &type))
    fail(ReplyCode::command_invalid, "unknown exchange type '" + m.type + "'");
  if (!existing && m.exchange.rfind("amq.", 0) == 0)
    fail(ReplyCode::access_refused, text::reserved_prefix("exchange", m.exchange));
  ExchangeOptions opts;
  opts.durable = m.durable;
  opts.auto_delete = m.auto_delete;
  opts.internal = m.internal;
  opts.arguments = m.arguments;
  bool created = false;
  ExchangePtr e = vh.declare_exchange(m.exchange, type, opts, &created);
  if (!created) {
    auto inequivalent = [&](const char* arg, const std::string& got, const std::string& cur) {
      fail(ReplyCode::precondition_failed,
           text::inequivalent(arg, "exchange", m.exchange, vh, got, cur));
    };
    if (e->type() != type) inequivalent("type", m.type, to_string(e->type()));
    if (e->options().durable != m.durable)
      inequivalent("durable", text::yes(m.durable), text::yes(e->options().durable));
    if (e->options().auto_delete != m.auto_delete)
      inequivalent("auto_delete", text::yes(m.auto_delete), text::yes(e->options().auto_delete));
    if (e->options().internal != m.internal)
      inequivalent("internal", text::yes(m.internal), text::yes(e->options().internal));
    const std::string asked_ae = alternate_exchange_of(m.arguments);
    if (e->alternate_exchange() != asked_ae)
      inequivalent("alternate-exchange", asked_ae, e->alternate_exchange());
  }
  if (!m.no_wait) send(amqp::ExchangeDeclareOk{});
}

void Channel::on(const amqp::ExchangeDelete& m, Command&) {
  VHost& vh = *ctx_.vhost;
  if (m.exchange.empty() || m.exchange.rfind("amq.", 0) == 0)
    fail(ReplyCode::access_refused,
         "operation not permitted on " + text::quoted("exchange", m.exchange, vh));
  if (ExchangePtr e = vh.find_exchange(m.exchange)) {
    if (m.if_unused && e->binding_count() > 0)
      fail(ReplyCode::precondition_failed, text::quoted("exchange", m.exchange, vh) + " in use");
    vh.delete_exchange(e);
  }
  if (!m.no_wait) send(amqp::ExchangeDeleteOk{});  // idempotent, as in RabbitMQ
}

void Channel::on(const amqp::ExchangeBind& m, Command&) {
  exchange_bind(m.destination, m.source, m.routing_key, m.arguments, true);
  if (!m.no_wait) send(amqp::ExchangeBindOk{});
}

void Channel::on(const amqp::ExchangeUnbind& m, Command&) {
  exchange_bind(m.destination, m.source, m.routing_key, m.arguments, false);
  if (!m.no_wait) send(amqp::ExchangeUnbindOk{});
}

void Channel::exchange_bind(const std::string& dest, const std::string& src, const std::string& key,
                            const amqp::FieldTable& args, bool bind) {
  VHost& vh = *ctx_.vhost;
  if (dest.empty() || src.empty()) fail(ReplyCode::access_refused, text::kDefaultExchange);
  ExchangePtr d = vh.find_exchange(dest), s = vh.find_exchange(src);
  if (!d) fail(ReplyCode::not_found, text::no("exchange", dest, vh));
  if (!s) fail(ReplyCode::not_found, text::no("exchange", src, vh));
  if (!bind)
    vh.unbind(s, Destination{nullptr, d}, key, args);
  else if (!vh.bind(s, Destination{nullptr, d}, key, args))  // one was deleted meanwhile
    fail(ReplyCode::not_found, text::no("exchange", vh.find_exchange(src) ? dest : src, vh));
}

}  // namespace weftd
