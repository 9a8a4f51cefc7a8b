// channel.h: one AMQP channel -- its commands, consumers, unacked deliveries, confirms
// and transaction.
//
// handle() runs on the connection's reader fiber, one command at a time. Deliveries
// arrive from other fibers (whoever dispatches a queue), so what they touch -- delivery
// tags, the unacked map, credit -- is guarded by the channel's mutex; a delivery takes a
// tag and appends its frames under that lock, so tags reach the client in order.
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

#include "connection.h"
#include "message.h"
#include "queue.h"
#include "weft/amqp/frame.h"
#include "weft/labels.h"
#include "weft/mutex.h"

namespace weftd {

class ChannelConsumer;

class Channel {
 public:
  Channel(Connection& conn, std::uint16_t id);
  ~Channel();

  std::uint16_t id() const { return id_; }
  weft::amqp::ContentAssembler& assembler() { return assembler_; }
  // handle() runs one command. Throws AmqpException for errors.
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
  // Called with the broker's reply-to registry lock held.
  void deliver_reply(const MessagePtr& m);

 private:
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

  void exchange_declare(const weft::amqp::ExchangeDeclare& m);
  void exchange_delete(const weft::amqp::ExchangeDelete& m);
  void exchange_bind(const std::string& dest, const std::string& src, const std::string& key,
                     const weft::amqp::FieldTable& args, bool bind);
  void queue_declare(const weft::amqp::QueueDeclare& m);
  void queue_bind(const std::string& queue, const std::string& exchange, const std::string& key,
                  const weft::amqp::FieldTable& args, bool bind);
  void queue_purge(const weft::amqp::QueuePurge& m);
  void queue_delete(const weft::amqp::QueueDelete& m);
  void basic_publish(const std::string& exchange, bool mandatory, MessagePtr m);
  void basic_consume(const weft::amqp::BasicConsume& m);
  void basic_cancel(const std::string& tag, bool no_wait, bool notify_client);
  void basic_get(const weft::amqp::BasicGet& m);
  void settle(std::uint64_t tag, bool multiple, bool ack, bool requeue);
  void recover();
  std::shared_ptr<Queue> queue_for_use(const std::string& name);
  void send(const weft::amqp::Method& m) { conn_.send_method(id_, m); }
  void delete_queue_if_auto(const std::shared_ptr<Queue>& q);

  Connection& conn_;
  const std::uint16_t id_;
  // {connection, channel}: the labels of the reader's work on this channel's commands.
  const weft::PreparedLabels labels_;
  weft::amqp::ContentAssembler assembler_;
  std::string last_queue_;  // "" in queue methods means the channel's last declared queue
  std::string reply_tag_, reply_token_;  // direct reply-to consumer, if any

  // Reader-fiber state.
  std::unordered_map<std::string, std::shared_ptr<ChannelConsumer>> consumers_;
  bool confirm_ = false, tx_ = false;
  std::uint64_t publish_seq_ = 0, confirmed_ = 0, acked_ = 0;
  std::vector<Pending> tx_publishes_;
  struct Settle {
    std::uint64_t tag;
    bool multiple, ack, requeue;
  };
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
