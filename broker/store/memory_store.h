// store/memory_store.h: today's queue store -- an in-memory FIFO whose tail pages to
// disk once the queue is long (core/queue_store.h is the contract it keeps).
//
// RabbitMQ's classic queues move messages to disk once a queue is long (since 3.12
// they keep only a small window in memory), so a backlog costs a broker disk rather
// than RAM. A MemoryStore does the same: while the bytes of its messages in memory
// would exceed its window (PagingSettings::window, --queue-memory-window), each newly
// pushed message is written to its PageFile (store/page_file.h) and only where it is
// kept; the message comes back into memory when it reaches the head, to be delivered
// or got. Records leave the file in the order they went in (only push appends, at the
// tail; only the head reads), so the file gives back its space as the queue drains,
// and is truncated when no paged message is left. A message that cannot be written (no
// file system space, no directory) stays in memory: paging never loses one.
//
// Nothing here is durable: the page file is unlinked from birth. settle() has nothing
// to record. Not thread-safe: its queue's lock guards it (core/queue_store.h).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "core/queue_store.h"
#include "metrics/metrics.h"
#include "store/page_file.h"

namespace weftd {

// PagingSettings: the broker's paging configuration, shared by its queues' stores.
struct PagingSettings {
  std::uint64_t window = 0;  // bytes of ready messages kept in memory per queue; 0: all
  std::string dir;           // where page files are created (unlinked)
};

class MemoryStore final : public QueueStore {
 public:
  // paging and registry outlive the store; registry's paged_* gauges count its pages.
  MemoryStore(std::string queue, const PagingSettings& paging, metrics::Registry& registry);
  ~MemoryStore() override;

  void push(MessagePtr m) override;
  bool pop(QueuedMessage* out) override;
  void requeue(std::vector<QueuedMessage> ms) override;
  void settle(const QueuedMessage&) override {}
  std::size_t size() const override { return messages_.size(); }
  std::size_t purge() override;

 private:
  // An entry: in memory (message set) or paged (message null, page says where).
  struct Entry {
    MessagePtr message;
    PageFile::Ref page;
    bool redelivered = false;
  };
  // pop_entry() takes the head entry's message into *out, reading it back from disk if
  // it was paged; false if that read failed (the message is lost, and logged).
  bool pop_entry(QueuedMessage* out);

  const std::string queue_;  // for log lines
  const PagingSettings& paging_;
  metrics::Registry& registry_;
  std::deque<Entry> messages_;
  std::unique_ptr<PageFile> page_;  // made at the first message paged
  std::uint64_t mem_bytes_ = 0;     // sizes of the messages held in memory
  std::size_t paged_ = 0;           // entries on disk (their bytes: page_->live_bytes())
};

// MemoryStoreFactory: a MemoryStore for every queue.
class MemoryStoreFactory final : public QueueStoreFactory {
 public:
  MemoryStoreFactory(PagingSettings paging, metrics::Registry& registry)
      : paging_(std::move(paging)), registry_(registry) {}
  std::unique_ptr<QueueStore> make(const std::string& vhost, const std::string& queue,
                                   const QueueOptions& opts) override;

 private:
  const PagingSettings paging_;
  metrics::Registry& registry_;
};

}  // namespace weftd
