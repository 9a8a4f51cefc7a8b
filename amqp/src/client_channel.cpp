// client_channel.cpp: the AMQP client's channels -- synchronous RPCs, publishing and
// confirms, consumers, and the dispatch of the commands the reader fiber hands over
// (weft/amqp/client.h; the connection is in client.cpp).
//
// A channel's life:  open ──(server channel.close: soft error)──▶ closed, error = theirs
//                     │                                              ▲
//                     └─close(): closing ──(close-ok, or theirs)─────┘ error = none
// and from any state, the connection's shutdown: closed, error = the connection's.
// fail() is the one way into `closed`: it wakes the RPC and confirm waiters and stops
// every pump, so no fiber stays parked on a dead channel.
#include "client_internal.h"

namespace weft::amqp {

namespace detail {

// ---- calls from user fibers --------------------------------------------------------

AmqpError ChannelState::closed_error() {
  if (error) return *error;
  return not_open_error(!conn->accepting.load());
}

void ChannelState::check_open() {
  std::lock_guard l(mu);
  if (closed || closing) throw closed_error();
}

Command ChannelState::call(Method m, bool is_close) {
  validate(m);
  std::unique_lock rpc(rpc_mu);
  {
    std::lock_guard l(mu);
    if (closed || closing) throw closed_error();
    if (is_close) closing = true;
    awaiting = true;
    reply.reset();
  }
  bool sent = false;
  std::optional<AmqpError> send_error;
  try {
    conn->send(Outgoing{id, std::move(m), nullptr});
    sent = true;
  } catch (const AmqpError& e) {
    send_error = e;
  }
  std::unique_lock l(mu);
  if (!sent) {
    awaiting = false;
    throw *send_error;
  }
  cv.wait(l, [&] { return reply.has_value() || closed; });
  awaiting = false;
  if (reply) {  // checked first: close-ok arrives together with `closed`
    Command c = std::move(*reply);
    reply.reset();
    return c;
  }
  throw closed_error();
}

void ChannelState::send(Method m) {
  check_open();
  conn->send(Outgoing{id, std::move(m), nullptr});
}

void ChannelState::close() {
  {
    std::lock_guard l(mu);
    if (closed || closing) return;
  }
  try {
    call(ChannelClose{kReplySuccess, "closed by the client", 0, 0}, /*is_close=*/true);
  } catch (const AmqpError&) {
    // Closed meanwhile, by the server or with the connection: closed either way.
  }
}

// ---- commands from the reader fiber ------------------------------------------------

void ChannelState::deliver_reply(Command& cmd) {
  {
    std::lock_guard l(mu);
    if (!awaiting || reply) return;  // nobody asked: a late reply to an abandoned call
    cmd.content.body.own();          // read by another fiber, after the reader has read on
    reply = std::move(cmd);
  }
  cv.notify_all();
}

void ChannelState::fail(std::optional<AmqpError> err) {
  std::vector<std::shared_ptr<PumpBase>> stopping;
  {
    std::lock_guard l(mu);
    if (closed) return;
    closed = true;
    error = std::move(err);
    stopping.swap(pumps);
    consumers.clear();
    returns.reset();
  }
  cv.notify_all();
  for (auto& p : stopping) p->stop();
}

void ChannelState::dispatch(Command& cmd) {
  Method& m = cmd.method;
  if (auto* d = std::get_if<BasicDeliver>(&m)) {
    std::shared_ptr<Pump<Delivery>> p;
    {
      std::lock_guard l(mu);
      if (closed || closing) return;
      auto it = consumers.find(d->consumer_tag);
      if (it == consumers.end()) return;  // cancelled meanwhile; the server requeues it
      p = it->second;
    }
    Delivery dv;
    dv.consumer_tag = std::move(d->consumer_tag);
    dv.delivery_tag = d->delivery_tag;
    dv.redelivered = d->redelivered;
    dv.exchange = std::move(d->exchange);
    dv.routing_key = std::move(d->routing_key);
    dv.properties = std::move(cmd.content.properties);
    dv.body = cmd.content.body.take();
    dv.channel = weak_from_this();
    p->push(std::move(dv));
    return;
  }
  if (auto* r = std::get_if<BasicReturn>(&m)) {
    std::shared_ptr<Pump<Returned>> p;
    {
      std::lock_guard l(mu);
      p = returns;
    }
    if (!p) return;  // nobody asked for returns()
    p->push(Returned{r->reply_code, std::move(r->reply_text), std::move(r->exchange),
                     std::move(r->routing_key), std::move(cmd.content.properties),
                     cmd.content.body.take()});
    return;
  }
  if (std::holds_alternative<BasicAck>(m) || std::holds_alternative<BasicNack>(m)) {
    // Publisher confirms: the server acks (or nacks) publish sequence numbers.
    const bool nack = std::holds_alternative<BasicNack>(m);
    const std::uint64_t tag =
        nack ? std::get<BasicNack>(m).delivery_tag : std::get<BasicAck>(m).delivery_tag;
    const bool multiple = nack ? std::get<BasicNack>(m).multiple : std::get<BasicAck>(m).multiple;
    bool settled = false;
    {
      std::lock_guard l(mu);
      if (!confirm) return;
      if (multiple && tag == 0)
        unconfirmed.clear();
      else if (multiple)
        unconfirmed.erase(unconfirmed.begin(), unconfirmed.upper_bound(tag));
      else
        unconfirmed.erase(tag);
      if (nack) nacked = true;
      settled = unconfirmed.empty();
    }
    if (settled) cv.notify_all();
    return;
  }
  if (auto* c = std::get_if<BasicCancel>(&m)) {
    // The server cancelled a consumer (its queue was deleted, say):
    // consumer_cancel_notify. Deliveries already queued still reach the user.
    std::shared_ptr<Pump<Delivery>> p;
    {
      std::lock_guard l(mu);
      if (auto it = consumers.find(c->consumer_tag); it != consumers.end()) {
        p = it->second;
        consumers.erase(it);
      }
    }
    if (p) p->finish();
    if (!c->no_wait) conn->send_nothrow(Outgoing{id, BasicCancelOk{c->consumer_tag}, nullptr});
    return;
  }
  if (auto* c = std::get_if<BasicCancelOk>(&m)) {
    std::shared_ptr<Pump<Delivery>> p;
    {
      std::lock_guard l(mu);
      if (auto it = consumers.find(c->consumer_tag); it != consumers.end()) {
        p = it->second;
        consumers.erase(it);
      }
    }
    if (p) p->finish();  // every delivery before cancel-ok is queued already
    deliver_reply(cmd);
    return;
  }
  if (auto* c = std::get_if<ChannelClose>(&m)) {
    // A soft error (or the server's own reasons): answer, then the channel is over.
    // close-ok is queued before the id is freed, so a new channel.open with the same
    // id cannot overtake it.
    AmqpError e(c->reply_code, c->reply_text, false, c->class_id, c->method_id);
    conn->send_nothrow(Outgoing{id, ChannelCloseOk{}, nullptr});
    bool crossed;
    {
      std::lock_guard l(mu);
      crossed = closing;  // our close crossed theirs: the id is freed by our close-ok
    }
    if (!crossed) conn->remove_channel(id, this);
    fail(std::move(e));
    return;
  }
  if (std::holds_alternative<ChannelCloseOk>(m)) {
    conn->remove_channel(id, this);
    deliver_reply(cmd);
    fail(std::nullopt);
    return;
  }
  if (auto* f = std::get_if<ChannelFlow>(&m)) {
    conn->send_nothrow(Outgoing{id, ChannelFlowOk{f->active}, nullptr});
    return;
  }
  deliver_reply(cmd);  // the -ok of the outstanding RPC
}

}  // namespace detail

// ---- Delivery ----------------------------------------------------------------------

namespace {
std::shared_ptr<detail::ChannelState> lock_channel(const std::weak_ptr<detail::ChannelState>& w) {
  auto ch = w.lock();
  if (!ch) throw detail::not_open_error(false);
  return ch;
}
}  // namespace

void Delivery::ack(bool multiple) const {
  lock_channel(channel)->send(BasicAck{delivery_tag, multiple});
}
void Delivery::nack(bool multiple, bool requeue) const {
  lock_channel(channel)->send(BasicNack{delivery_tag, multiple, requeue});
}
void Delivery::reject(bool requeue) const {
  lock_channel(channel)->send(BasicReject{delivery_tag, requeue});
}

// ---- Channel -----------------------------------------------------------------------

Channel::Channel(Channel&& o) noexcept = default;

Channel& Channel::operator=(Channel&& o) noexcept {
  if (this != &o) {
    close();
    s_ = std::move(o.s_);
  }
  return *this;
}

Channel::~Channel() { close(); }

void Channel::close() {
  if (s_) s_->close();
}

namespace {
detail::ChannelState& state(const std::shared_ptr<detail::ChannelState>& s) {
  if (!s) throw detail::not_open_error(false);
  return *s;
}
}  // namespace

std::uint16_t Channel::id() const { return s_ ? s_->id : 0; }

bool Channel::is_open() const {
  if (!s_) return false;
  std::lock_guard l(s_->mu);
  return !s_->closed && !s_->closing;
}

std::optional<AmqpError> Channel::error() const {
  if (!s_) return std::nullopt;
  std::lock_guard l(s_->mu);
  return s_->error;
}

void Channel::exchange_declare(std::string_view name, std::string_view type,
                               const ExchangeOptions& o) {
  state(s_).call_ok<ExchangeDeclareOk>(ExchangeDeclare{0, std::string(name), std::string(type),
                                                       o.passive, o.durable, o.auto_delete,
                                                       o.internal, false, o.arguments});
}

void Channel::exchange_delete(std::string_view name, bool if_unused) {
  state(s_).call_ok<ExchangeDeleteOk>(ExchangeDelete{0, std::string(name), if_unused, false});
}

void Channel::exchange_bind(std::string_view destination, std::string_view source,
                            std::string_view routing_key, const FieldTable& arguments) {
  state(s_).call_ok<ExchangeBindOk>(ExchangeBind{0, std::string(destination), std::string(source),
                                                 std::string(routing_key), false, arguments});
}

void Channel::exchange_unbind(std::string_view destination, std::string_view source,
                              std::string_view routing_key, const FieldTable& arguments) {
  state(s_).call_ok<ExchangeUnbindOk>(ExchangeUnbind{0, std::string(destination),
                                                     std::string(source), std::string(routing_key),
                                                     false, arguments});
}

QueueInfo Channel::queue_declare(std::string_view name, const QueueOptions& o) {
  auto ok = state(s_).call_ok<QueueDeclareOk>(QueueDeclare{
      0, std::string(name), o.passive, o.durable, o.exclusive, o.auto_delete, false, o.arguments});
  return QueueInfo{std::move(ok.queue), ok.message_count, ok.consumer_count};
}

void Channel::queue_bind(std::string_view queue, std::string_view exchange,
                         std::string_view routing_key, const FieldTable& arguments) {
  state(s_).call_ok<QueueBindOk>(QueueBind{0, std::string(queue), std::string(exchange),
                                           std::string(routing_key), false, arguments});
}

void Channel::queue_unbind(std::string_view queue, std::string_view exchange,
                           std::string_view routing_key, const FieldTable& arguments) {
  state(s_).call_ok<QueueUnbindOk>(QueueUnbind{0, std::string(queue), std::string(exchange),
                                               std::string(routing_key), arguments});
}

std::uint32_t Channel::queue_purge(std::string_view queue) {
  return state(s_).call_ok<QueuePurgeOk>(QueuePurge{0, std::string(queue), false}).message_count;
}

std::uint32_t Channel::queue_delete(std::string_view queue, bool if_unused, bool if_empty) {
  return state(s_)
      .call_ok<QueueDeleteOk>(QueueDelete{0, std::string(queue), if_unused, if_empty, false})
      .message_count;
}

void Channel::basic_qos(std::uint16_t prefetch_count, bool global, std::uint32_t prefetch_size) {
  state(s_).call_ok<BasicQosOk>(BasicQos{prefetch_size, prefetch_count, global});
}

Consumer Channel::basic_consume(std::string_view queue, const ConsumeOptions& o) {
  auto& s = state(s_);
  auto pump = std::make_shared<detail::Pump<Delivery>>();
  std::string tag = o.consumer_tag;
  {
    // Registered before basic.consume goes out: the first delivery may follow
    // consume-ok immediately, and the reader must find its consumer.
    std::lock_guard l(s.mu);
    if (s.closed || s.closing) throw s.closed_error();
    if (tag.empty())
      tag = "weft.ctag-" + std::to_string(s.id) + "." + std::to_string(++s.consumer_seq);
    if (s.consumers.count(tag))
      throw AmqpError(kNotAllowed, "consumer tag " + tag + " is in use on this channel", false);
    s.consumers.emplace(tag, pump);
    // Forget the pumps of consumers cancelled and drained since: a channel that
    // consumes and cancels in a loop keeps only its live ones.
    std::erase_if(s.pumps, [](const auto& p) { return p->exited(); });
    s.pumps.push_back(pump);
    s.conn->go_pump(pump);
  }
  std::optional<AmqpError> failure;
  try {
    s.call_ok<BasicConsumeOk>(BasicConsume{0, std::string(queue), tag, o.no_local, o.no_ack,
                                           o.exclusive, false, o.arguments});
  } catch (const AmqpError& e) {
    failure = e;
  }
  if (failure) {
    {
      std::lock_guard l(s.mu);
      s.consumers.erase(tag);
    }
    pump->stop();
    throw *failure;
  }
  return Consumer{std::move(tag), pump->out};
}

void Channel::basic_cancel(std::string_view consumer_tag) {
  state(s_).call_ok<BasicCancelOk>(BasicCancel{std::string(consumer_tag), false});
}

std::optional<Delivery> Channel::basic_get(std::string_view queue, bool no_ack) {
  auto& s = state(s_);
  Command c = s.call(BasicGet{0, std::string(queue), no_ack});
  if (std::holds_alternative<BasicGetEmpty>(c.method)) return std::nullopt;
  auto* ok = std::get_if<BasicGetOk>(&c.method);
  if (!ok)
    throw AmqpError(kCommandInvalid,
                    std::string("unexpected reply ") + method_info(c.method).name + " to basic.get",
                    false);
  Delivery d;
  d.delivery_tag = ok->delivery_tag;
  d.redelivered = ok->redelivered;
  d.exchange = std::move(ok->exchange);
  d.routing_key = std::move(ok->routing_key);
  d.message_count = ok->message_count;
  d.properties = std::move(c.content.properties);
  d.body = c.content.body.take();
  d.channel = s_;
  return d;
}

std::uint64_t Channel::basic_publish(std::string_view exchange, std::string_view routing_key,
                                     std::string body, const BasicProperties& properties,
                                     bool mandatory) {
  auto& s = state(s_);
  Method m = BasicPublish{0, std::string(exchange), std::string(routing_key), mandatory, false};
  detail::validate(m, &properties);
  auto content =
      std::make_unique<detail::OutContent>(detail::OutContent{properties, std::move(body)});
  // Sequence numbers count publishes in the order the server sees them: assigned and
  // queued under one lock.
  std::lock_guard pub(s.pub_mu);
  std::uint64_t seq = 0;
  {
    std::lock_guard l(s.mu);
    if (s.closed || s.closing) throw s.closed_error();
    if (s.confirm) {
      seq = s.next_seq++;
      s.unconfirmed.insert(seq);
    }
  }
  s.conn->send(detail::Outgoing{s.id, std::move(m), std::move(content)});
  return seq;
}

void Channel::basic_ack(std::uint64_t delivery_tag, bool multiple) {
  state(s_).send(BasicAck{delivery_tag, multiple});
}

void Channel::basic_nack(std::uint64_t delivery_tag, bool multiple, bool requeue) {
  state(s_).send(BasicNack{delivery_tag, multiple, requeue});
}

void Channel::basic_reject(std::uint64_t delivery_tag, bool requeue) {
  state(s_).send(BasicReject{delivery_tag, requeue});
}

void Channel::basic_recover(bool requeue) {
  state(s_).call_ok<BasicRecoverOk>(BasicRecover{requeue});
}

weft::Chan<Returned> Channel::returns() {
  auto& s = state(s_);
  std::lock_guard l(s.mu);
  if (s.returns) return s.returns->out;
  auto pump = std::make_shared<detail::Pump<Returned>>();
  if (s.closed || s.closing) {
    pump->out.close();  // nothing will ever come back on a closed channel
    return pump->out;
  }
  s.returns = pump;
  s.pumps.push_back(pump);
  s.conn->go_pump(pump);
  return pump->out;
}

void Channel::confirm_select() {
  auto& s = state(s_);
  std::lock_guard pub(s.pub_mu);  // no publish may slip between select-ok and counting
  s.call_ok<ConfirmSelectOk>(ConfirmSelect{false});
  std::lock_guard l(s.mu);
  s.confirm = true;
}

bool Channel::wait_for_confirms() {
  auto& s = state(s_);
  std::unique_lock l(s.mu);
  if (!s.confirm) throw std::logic_error("wait_for_confirms: the channel is not in confirm mode");
  s.cv.wait(l, [&] { return s.unconfirmed.empty() || s.closed; });
  if (!s.unconfirmed.empty()) throw s.closed_error();
  const bool all_acked = !s.nacked;
  s.nacked = false;
  return all_acked;
}

std::uint64_t Channel::next_publish_seq_no() const {
  if (!s_) return 0;
  std::lock_guard l(s_->mu);
  return s_->confirm ? s_->next_seq : 0;
}

void Channel::tx_select() { state(s_).call_ok<TxSelectOk>(TxSelect{}); }
void Channel::tx_commit() { state(s_).call_ok<TxCommitOk>(TxCommit{}); }
void Channel::tx_rollback() { state(s_).call_ok<TxRollbackOk>(TxRollback{}); }

}  // namespace weft::amqp
