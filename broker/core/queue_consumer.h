// core/queue_consumer.h: what a queue delivers to -- the seam between core/ and a
// protocol (amqp091's basic.consume implements it).
//
// A queue calls these with its lock held (core/queue.h's lock order): an implementation
// may take its own locks, which rank after the queue's, and must not call back into any
// queue.
#pragma once

#include "core/message.h"

namespace weftd {

class Queue;

class QueueConsumer {
 public:
  virtual ~QueueConsumer() = default;
  // has_credit(): may take one more message now (prefetch, socket backlog).
  virtual bool has_credit() = 0;
  // deliver(): takes the message (basic.deliver).
  virtual void deliver(Queue& q, QueuedMessage m) = 0;
  // cancelled_by_server(): the queue was deleted under the consumer.
  virtual void cancelled_by_server() = 0;
};

}  // namespace weftd
