// queue.h: a message queue and its consumers.
//
// A Queue is a FIFO of messages and a ring of consumers, under one weft::Mutex. There is
// no fiber per queue: whoever changes what can be delivered -- a publisher enqueueing, a
// consumer acking (credit freed), a writer that drained its socket buffer -- calls
// dispatch(), which hands messages to consumers round-robin for as long as some consumer
// has credit. So a batch of waiting messages goes out in one pass (no wake-up per
// message), and no state change can leave a deliverable message sitting (no lost
// wake-up): every path that makes delivery possible ends in dispatch().
//
// Lock order: Queue::mu_ → the consumer's channel lock → its connection's output lock.
// Nothing that takes a queue lock is called with a channel or output lock held.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "message.h"
#include "weft/amqp/types.h"
#include "weft/mutex.h"

namespace weftd {

class Queue;

// QueueConsumer: what a queue delivers to (a basic.consume on some channel).
class QueueConsumer {
 public:
  virtual ~QueueConsumer() = default;
  // has_credit(): may take one more message now (prefetch, socket backlog).
  // Called with the queue's lock held.
  virtual bool has_credit() = 0;
  // deliver(): takes the message (basic.deliver). Called with the queue's lock held.
  virtual void deliver(Queue& q, QueuedMessage m) = 0;
  // cancelled_by_server(): the queue was deleted under the consumer.
  virtual void cancelled_by_server() = 0;
};

struct QueueOptions {
  bool durable = false, exclusive = false, auto_delete = false;
  std::uint64_t owner = 0;  // exclusive: the owning connection's id
  weft::amqp::FieldTable arguments;
};

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  Queue(std::string name, QueueOptions opts) : name_(std::move(name)), opts_(std::move(opts)) {}

  const std::string& name() const { return name_; }
  const QueueOptions& options() const { return opts_; }

  // enqueue() adds a message and delivers what it can.
  void enqueue(MessagePtr m);
  // requeue() puts messages back at the head, marked redelivered (nack/reject/recover/
  // channel close), in the order given.
  void requeue(std::vector<QueuedMessage> ms);
  // get() takes the head message (basic.get); nullopt if empty.
  std::optional<QueuedMessage> get(std::size_t* remaining);
  // dispatch() delivers to consumers with credit until none has or the queue is empty.
  void dispatch();

  // add_consumer() fails (false) if the queue has an exclusive consumer, or if
  // `exclusive` is asked for and it has any consumer (403 ACCESS_REFUSED).
  bool add_consumer(std::shared_ptr<QueueConsumer> c, bool exclusive);
  // remove_consumer(): returns true if it was the last one of an auto-delete queue
  // (the caller deletes the queue).
  bool remove_consumer(QueueConsumer* c);
  // mark_deleted(): cancels every consumer and drops the messages. Returns the count.
  std::size_t mark_deleted();
  bool deleted();

  std::size_t message_count();
  std::size_t consumer_count();
  std::size_t purge();

 private:
  void dispatch_locked();

  const std::string name_;
  const QueueOptions opts_;
  weft::Mutex mu_;
  std::deque<QueuedMessage> messages_;
  std::vector<std::shared_ptr<QueueConsumer>> consumers_;
  std::size_t next_consumer_ = 0;
  bool had_consumer_ = false;
  bool exclusive_consumer_ = false;
  bool deleted_ = false;
};
using QueuePtr = std::shared_ptr<Queue>;

}  // namespace weftd
