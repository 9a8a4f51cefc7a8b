// core/queue.h: a message queue and its consumers.
//
// A Queue is a FIFO of messages and a ring of consumers, under one weft::Mutex. There is
// no fiber per queue: whoever changes what can be delivered -- a publisher enqueueing, a
// consumer acking (credit freed), a writer that drained its socket buffer -- calls
// dispatch(), which hands messages to consumers round-robin for as long as some consumer
// has credit. So a batch of waiting messages goes out in one pass (no wake-up per
// message), and no state change can leave a deliverable message sitting (no lost
// wake-up): every path that makes delivery possible ends in dispatch().
//
// Publisher flow control (RabbitMQ's "flow" state, weftd's way). RabbitMQ throttles a
// publisher when the queue process it feeds falls behind; weftd has no queue process,
// and what falls behind is delivery: consumers (their acks, their connections' writers)
// compete for the same cores as publishers whose sockets are always ready. So when a
// queue that has consumers holds kFlowHigh or more ready messages, enqueue() reports
// flow and the publishing connection stops reading its socket (wait_flow()) -- TCP
// backpressure then holds the publisher -- until the queue is down to kFlowLow, or its
// consumers have taken kFlowCredit more messages, or they are gone. Consumers that take
// nothing for a second (they are not acking) release the publisher: the queue then
// buffers, as a queue is for; flow only paces publishers to consumers that are moving.
//
// Storage is not the queue's business: its messages live behind a QueueStore
// (core/queue_store.h), which may keep them in memory, page them to disk, or log them
// durably; the queue calls it under its own lock and never knows which it has.
//
// Lock order: Queue::mu_ → the consumer's channel lock → its connection's output lock.
// Nothing that takes a queue lock is called with a channel or output lock held.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/message.h"
#include "core/queue_consumer.h"
#include "core/queue_options.h"
#include "core/queue_store.h"
#include "metrics/metrics.h"
#include "weft/condition_variable.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/time.h"

namespace weftd {

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  // store: where its messages live; stats: its counters (the registry's block).
  Queue(std::string name, QueueOptions opts, std::unique_ptr<QueueStore> store,
        std::shared_ptr<metrics::QueueStats> stats);
  ~Queue();

  const std::string& name() const { return name_; }
  const QueueOptions& options() const { return opts_; }

  // Flow control (see the header comment), in messages.
  static constexpr std::size_t kFlowHigh = 2000, kFlowLow = 1000, kFlowCredit = 1000;

  // enqueue() adds a message and delivers what it can. Returns true when the queue is
  // in flow: the publisher should wait_flow() before it reads more publishes.
  bool enqueue(MessagePtr m);
  // wait_flow() parks until the queue is out of flow, its consumers took kFlowCredit
  // messages, or they took none for a second.
  void wait_flow();
  // requeue() puts messages back at the head, marked redelivered (nack/reject/recover/
  // channel close), in the order given.
  void requeue(std::vector<QueuedMessage> ms);
  // settle() is told that messages it handed out are done with for good (acked when
  // `acked`, else rejected without requeue): the store records it, and the credit this
  // freed is used at once (dispatch). The caller keeps (and frees) the messages: their
  // last references are not dropped under the queue's lock.
  void settle(const std::vector<QueuedMessage>& ms, bool acked);
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
  bool in_flow_locked() const {
    return !deleted_ && !consumers_.empty() && store_->size() > kFlowLow;
  }
  // flow_recheck_locked() wakes the publishers waiting in wait_flow() when they may go.
  void flow_recheck_locked();
  // note_ready_locked() publishes the ready count to the stats block.
  void note_ready_locked() { stats_->ready.set(static_cast<std::int64_t>(store_->size())); }

  const std::string name_;
  const QueueOptions opts_;
  // {queue}: enqueueing and dispatching run on whichever fiber publishes, acks or
  // drains a socket; profiles attribute that work to the queue (`-tagfocus queue=q`).
  const weft::PreparedLabels labels_;
  const std::shared_ptr<metrics::QueueStats> stats_;
  weft::Mutex mu_;
  const std::unique_ptr<QueueStore> store_;  // guarded by mu_
  std::vector<std::shared_ptr<QueueConsumer>> consumers_;
  std::size_t next_consumer_ = 0;
  bool had_consumer_ = false;
  bool exclusive_consumer_ = false;
  bool deleted_ = false;
  std::uint64_t delivered_ = 0;     // messages handed to consumers, ever
  std::uint64_t flow_release_ = 0;  // delivered_ at which waiting publishers go
  int flow_waiters_ = 0;
  weft::ConditionVariable flow_cv_;
};
using QueuePtr = std::shared_ptr<Queue>;

}  // namespace weftd
