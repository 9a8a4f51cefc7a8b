// amqp091/channel.h: one AMQP channel -- its commands, consumers, unacked deliveries,
// confirms and transaction (RabbitMQ's rabbit_channel).
//
// handle() runs on the connection's reader fiber, one command at a time, and hands it
// to the on() overload for its method; the overloads live with their AMQP class:
//   channel.cpp           channel.flow, dispatch, close
//   channel_exchange.cpp  exchange.declare/delete/bind/unbind
//   channel_queue.cpp     queue.declare/bind/unbind/purge/delete
//   channel_basic.cpp     basic.qos/publish/consume/cancel/get/ack/nack/reject/recover,
//                         deliveries, direct reply-to
//   channel_tx.cpp        tx.select/commit/rollback, confirm.select, confirms
// A method no overload takes is 503 COMMAND_INVALID.
//
// Deliveries arrive from other fibers (whoever dispatches a queue), so what they touch
// -- delivery tags, the unacked map, credit -- is guarded by the channel's mutex; a
// delivery takes a tag and appends its frames under that lock, so tags reach the client
// in order. Lock order: a queue's lock → mu_ → the connection's output lock.
//
// Credit (basic.qos, RabbitMQ's semantics): prefetch_count with global=false limits each
// consumer started after it; with global=true it limits the channel's unacked deliveries
// across its consumers. No-ack consumers have no limit but stop while the connection's
// output is backlogged.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "amqp091/amqp_error.h"
#include "amqp091/channel_context.h"
#include "amqp091/confirms.h"
#include "core/message.h"
#include "core/queue.h"
#include "metrics/metrics.h"
#include "weft/amqp/frame.h"
#include "weft/labels.h"
#include "weft/mutex.h"

namespace weftd {

class ChannelConsumer;

class Channel {
 public:
  // ctx outlives the channel.
  Channel(const ChannelContext& ctx, std::uint16_t id);
  ~Channel();

  std::uint16_t id() const { return id_; }
  weft::amqp::ContentAssembler& assembler() { return assembler_; }
  // handle() runs one command. Throws AmqpException for errors. Reader fiber only.
  void handle(weft::amqp::Command& cmd);
  // flush_confirms() sends the acks owed since the last flush, coalesced with multiple.
  void flush_confirms();
  // close() releases everything: consumers cancelled, unacked messages requeued.
  void close();

  // Called by ChannelConsumer, with the queue's lock held.
  bool consumer_has_credit(ChannelConsumer& c, const std::shared_ptr<Queue>& q);
  void consumer_deliver(ChannelConsumer& c, const std::shared_ptr<Queue>& q, QueuedMessage m);
  void consumer_cancelled_by_server(ChannelConsumer& c);
  // deliver_reply() delivers a direct reply-to message to this channel's reply consumer.
  // Called with the reply-to registry's lock held.
  void deliver_reply(const MessagePtr& m);

 private:
  using Command = weft::amqp::Command;
  struct Unacked {
    std::shared_ptr<Queue> queue;
    QueuedMessage message;
    std::shared_ptr<ChannelConsumer> consumer;  // nullptr for basic.get
  };
  struct Pending {  // a publish inside a transaction
    std::string exchange;
    bool mandatory;
    MessagePtr message;
  };
  struct Settle {  // an ack, nack or reject inside a transaction
    std::uint64_t tag;
    bool multiple, ack, requeue;
  };

  // channel.cpp
  void on(const weft::amqp::ChannelFlow& m, Command&);
  void on(const weft::amqp::ChannelFlowOk&, Command&) {}
  template <class M>
  void on(const M&, Command&) {
    fail(weft::amqp::ReplyCode::command_invalid,
         std::string("unexpected method ") + M::kName + " on a channel");
  }
  void send(const weft::amqp::Method& m) { ctx_.out->send_method(id_, m); }
  // redispatch() lets every queue this channel consumes from deliver again (credit was
  // freed, flow resumed), skipping those in *done; adds them to it.
  void redispatch(std::vector<Queue*>* done = nullptr);

  // channel_exchange.cpp
  void on(const weft::amqp::ExchangeDeclare& m, Command&);
  void on(const weft::amqp::ExchangeDelete& m, Command&);
  void on(const weft::amqp::ExchangeBind& m, Command&);
  void on(const weft::amqp::ExchangeUnbind& m, Command&);
  void exchange_bind(const std::string& dest, const std::string& src, const std::string& key,
                     const weft::amqp::FieldTable& args, bool bind);

  // channel_queue.cpp
  void on(const weft::amqp::QueueDeclare& m, Command&);
  void on(const weft::amqp::QueueBind& m, Command&);
  void on(const weft::amqp::QueueUnbind& m, Command&);
  void on(const weft::amqp::QueuePurge& m, Command&);
  void on(const weft::amqp::QueueDelete& m, Command&);
  void queue_bind(const std::string& queue, const std::string& exchange, const std::string& key,
                  const weft::amqp::FieldTable& args, bool bind);
  // queue_for_use() finds a queue this connection may use ("" is the last declared).
  std::shared_ptr<Queue> queue_for_use(const std::string& name);
  void delete_queue_if_auto(const std::shared_ptr<Queue>& q);

  // channel_basic.cpp
  void on(const weft::amqp::BasicQos& m, Command&);
  void on(const weft::amqp::BasicPublish& m, Command& cmd);
  void on(const weft::amqp::BasicConsume& m, Command&);
  void on(const weft::amqp::BasicCancel& m, Command&);
  void on(const weft::amqp::BasicGet& m, Command&);
  void on(const weft::amqp::BasicAck& m, Command&);
  void on(const weft::amqp::BasicNack& m, Command&);
  void on(const weft::amqp::BasicReject& m, Command&);
  void on(const weft::amqp::BasicRecover& m, Command&);
  void on(const weft::amqp::BasicRecoverAsync& m, Command&);
  void basic_publish(const std::string& exchange, bool mandatory, MessagePtr m);
  void basic_return(const Message& m, bool with_exchange);
  void basic_cancel(const std::string& tag, bool no_wait, bool notify_client);
  // settle() acks, or rejects (requeueing or not), tag (all up to it when multiple; 0
  // with multiple: all).
  void settle(std::uint64_t tag, bool multiple, bool ack, bool requeue);
  void recover();

  // channel_tx.cpp
  void on(const weft::amqp::ConfirmSelect& m, Command&);
  void on(const weft::amqp::TxSelect& m, Command&);
  void on(const weft::amqp::TxCommit& m, Command&);
  void on(const weft::amqp::TxRollback& m, Command&);
  // published() is told that a publish has been handled (routed, or held by the
  // transaction): a confirm is owed for it.
  void published();

  const ChannelContext& ctx_;
  const std::uint16_t id_;
  // {connection, channel}: the labels of the reader's work on this channel's commands.
  const weft::PreparedLabels labels_;
  const std::shared_ptr<metrics::ChannelStats> stats_;
  weft::amqp::ContentAssembler assembler_;
  std::string last_queue_;  // "" in queue methods means the channel's last declared queue
  std::string reply_tag_, reply_token_;  // direct reply-to consumer, if any

  // Reader-fiber state.
  std::unordered_map<std::string, std::shared_ptr<ChannelConsumer>> consumers_;
  Confirms confirms_;
  bool tx_ = false;
  std::vector<Pending> tx_publishes_;
  std::vector<Settle> tx_settles_;

  // Shared with delivering fibers: guarded by mu_.
  weft::Mutex mu_;
  std::uint64_t delivery_tag_ = 0;
  std::map<std::uint64_t, Unacked> unacked_;
  std::uint16_t prefetch_count_ = 0;  // for consumers started from now on (global=false)
  std::uint16_t global_prefetch_ = 0;
  std::size_t global_unacked_ = 0;
  bool flow_active_ = true;
};

}  // namespace weftd
