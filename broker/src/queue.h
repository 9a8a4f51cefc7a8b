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
// Long queues go to disk (RabbitMQ's classic queues page, and since 3.12 keep only a
// small window in memory). A queue whose ready messages in memory would exceed its
// window (QueuePaging::window, --queue-memory-window) writes each newly enqueued message
// to its PageFile instead and keeps only where it is; the message comes back into
// memory when it reaches the head, to be delivered or got. Records leave the file in
// the order they went in (only enqueue appends, at the tail; only the head reads), so
// the file gives back its space as the queue drains, and is truncated when no paged
// message is left. A message that cannot be written (no file system space, no
// directory) stays in memory: paging never loses one.
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
#include "weft/condition_variable.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/time.h"

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

// QueuePaging: the broker's paging settings (Config), shared by its queues.
struct QueuePaging {
  std::uint64_t window = 0;  // bytes of ready messages kept in memory per queue; 0: all
  std::string dir;           // where page files are created (unlinked)
};

// queue_paging_stats(): messages and bytes on disk now, in all queues; and ever paged.
struct QueuePagingStats {
  std::atomic<std::int64_t> messages{0}, bytes{0};
  std::atomic<std::uint64_t> paged_total{0};
};
inline QueuePagingStats& queue_paging_stats() {
  static QueuePagingStats s;
  return s;
}

struct QueueOptions {
  bool durable = false, exclusive = false, auto_delete = false;
  std::uint64_t owner = 0;  // exclusive: the owning connection's id
  weft::amqp::FieldTable arguments;
};

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  Queue(std::string name, QueueOptions opts, const QueuePaging* paging = nullptr)
      : name_(std::move(name)),
        opts_(std::move(opts)),
        labels_({{"queue", name_}}),
        paging_(paging) {}
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
    return !deleted_ && !consumers_.empty() && messages_.size() > kFlowLow;
  }
  // flow_recheck_locked() wakes the publishers waiting in wait_flow() when they may go.
  void flow_recheck_locked();
  // push_back_locked() queues m at the tail: in memory, or on disk past the window.
  void push_back_locked(MessagePtr m);
  // pop_front_locked() takes the head message into *out, reading it back from disk if
  // it was paged; false if that read failed (the message is lost, and logged).
  bool pop_front_locked(QueuedMessage* out);
  // clear_locked() drops every message (purge, delete); returns how many.
  std::size_t clear_locked();

  const std::string name_;
  const QueueOptions opts_;
  // {queue}: enqueueing and dispatching run on whichever fiber publishes, acks or
  // drains a socket; profiles attribute that work to the queue (`-tagfocus queue=q`).
  const weft::PreparedLabels labels_;
  weft::Mutex mu_;
  std::deque<QueuedMessage> messages_;
  const QueuePaging* paging_;
  std::unique_ptr<PageFile> page_;  // made at the first message paged
  std::uint64_t mem_bytes_ = 0;     // sizes of the messages_ held in memory
  std::size_t paged_ = 0;           // messages_ on disk (their bytes: page_->live_bytes())
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
