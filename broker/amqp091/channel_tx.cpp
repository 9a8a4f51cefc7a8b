// amqp091/channel_tx.cpp: transactions (tx.select/commit/rollback) and publisher
// confirms (confirm.select, the acks owed) -- the two ways a publisher learns what the
// broker holds (amqp091/channel.h, amqp091/confirms.h).
#include "amqp091/channel.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

void Channel::on(const amqp::ConfirmSelect& m, Command&) {
  if (tx_) fail(ReplyCode::precondition_failed, "cannot switch from tx to confirm mode");
  confirms_.enable();
  if (!m.nowait) send(amqp::ConfirmSelectOk{});
}

void Channel::published() {
  // Transient queues hold the message as soon as it is enqueued: confirm it now (the
  // ack goes out, coalesced, when the reader next runs out of input).
  if (confirms_.enabled()) confirms_.confirm_through(confirms_.next());
}

void Channel::flush_confirms() {
  std::uint64_t n = 0;
  if (auto ack = confirms_.take_ack(&n)) {
    stats_->confirmed.add(n);
    send(*ack);
  }
}

void Channel::on(const amqp::TxSelect&, Command&) {
  if (confirms_.enabled())
    fail(ReplyCode::precondition_failed, "cannot switch from confirm to tx mode");
  tx_ = true;
  send(amqp::TxSelectOk{});
}

void Channel::on(const amqp::TxCommit&, Command&) {
  if (!tx_) fail(ReplyCode::precondition_failed, "channel is not transactional");
  auto pubs = std::move(tx_publishes_);
  auto settles = std::move(tx_settles_);
  tx_publishes_.clear();
  tx_settles_.clear();
  for (Pending& p : pubs) basic_publish(p.exchange, p.mandatory, std::move(p.message));
  for (const Settle& s : settles) settle(s.tag, s.multiple, s.ack, s.requeue);
  send(amqp::TxCommitOk{});
}

void Channel::on(const amqp::TxRollback&, Command&) {
  if (!tx_) fail(ReplyCode::precondition_failed, "channel is not transactional");
  tx_publishes_.clear();
  tx_settles_.clear();
  send(amqp::TxRollbackOk{});
}

}  // namespace weftd
