// core/queue_store.h: the seam a queue keeps its messages behind (RabbitMQ's
// backing_queue, LavinMQ's message_store).
//
// A Queue (core/queue.h) owns one QueueStore and calls it only with the queue's lock
// held, so an implementation needs no lock of its own for its state. The queue never
// knows which implementation it has: store/ provides them (store/memory_store.h: an
// in-memory FIFO that pages a long queue's tail to an unlinked file) and the server
// picks one through a QueueStoreFactory. A durable store is another implementation of
// the same contract, which is why acks reach the store.
//
// Contract, in the queue's order of messages:
//   push()     a new message at the tail.
//   pop()      the head, or false when empty. A message that cannot be read back (an
//              I/O error) is logged and skipped: pop() returns the next one.
//   requeue()  messages handed out by pop() back at the head, in the order given,
//              marked redelivered.
//   settle()   a message handed out by pop() is done with for good (acked, or rejected
//              or nacked without requeue): a durable store records it.
//   size()     messages held (ready), however they are held.
//   purge()    drops every ready message; returns how many.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/message.h"
#include "core/queue_options.h"

namespace weftd {

class QueueStore {
 public:
  virtual ~QueueStore() = default;
  virtual void push(MessagePtr m) = 0;
  virtual bool pop(QueuedMessage* out) = 0;
  virtual void requeue(std::vector<QueuedMessage> ms) = 0;
  virtual void settle(const QueuedMessage& m) = 0;
  virtual std::size_t size() const = 0;
  virtual std::size_t purge() = 0;
};

// QueueStoreFactory: makes the store of each new queue. Thread-safe.
class QueueStoreFactory {
 public:
  virtual ~QueueStoreFactory() = default;
  virtual std::unique_ptr<QueueStore> make(const std::string& vhost, const std::string& queue,
                                           const QueueOptions& opts) = 0;
};

}  // namespace weftd
