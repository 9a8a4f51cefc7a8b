// store/memory_store.cpp: see store/memory_store.h.
#include "store/memory_store.h"

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace weftd {

namespace {

// A paged message's record: its body first, then its exchange, routing key and
// properties, then their three lengths (u32 each, host order: the file never outlives
// the process). Body first so that reading it back costs no copy of the body: the
// record's string, cut down to it, becomes the message's body.
bool page_out(PageFile& file, const Message& m, PageFile::Ref* ref) {
  const std::uint32_t n[3] = {static_cast<std::uint32_t>(m.exchange.size()),
                              static_cast<std::uint32_t>(m.routing_key.size()),
                              static_cast<std::uint32_t>(m.properties_wire.size())};
  return file.append({m.body, m.exchange, m.routing_key, m.properties_wire,
                      std::string_view(reinterpret_cast<const char*>(n), sizeof n)},
                     ref);
}

MessagePtr decode_record(std::string r, metrics::SharedGauge& message_bytes) {
  std::uint32_t n[3];
  if (r.size() < sizeof n) return nullptr;
  std::memcpy(n, r.data() + r.size() - sizeof n, sizeof n);
  const std::size_t tail = std::size_t{n[0]} + n[1] + n[2] + sizeof n;
  if (tail > r.size()) return nullptr;
  auto m = std::make_shared<Message>();
  std::size_t at = r.size() - tail;
  m->exchange.assign(r, at, n[0]);
  m->routing_key.assign(r, at += n[0], n[1]);
  m->properties_wire.assign(r, at += n[1], n[2]);
  r.resize(r.size() - tail);
  m->body = std::move(r);
  m->account(message_bytes);
  return m;
}

}  // namespace

MemoryStore::MemoryStore(std::string queue, const PagingSettings& paging,
                         metrics::Registry& registry)
    : queue_(std::move(queue)), paging_(paging), registry_(registry) {}

MemoryStore::~MemoryStore() { purge(); }  // (the paging gauges)

void MemoryStore::push(MessagePtr m) {
  const std::uint64_t size = m->size();
  if (paging_.window > 0 && mem_bytes_ + size > paging_.window) {
    if (!page_) page_ = std::make_unique<PageFile>(paging_.dir);
    Entry e;
    if (page_out(*page_, *m, &e.page)) {
      const auto length = static_cast<std::int64_t>(e.page.length);
      messages_.push_back(std::move(e));  // m, if no other queue holds it, goes now
      paged_++;
      registry_.paged_messages.add(1);
      registry_.paged_bytes.add(length);
      registry_.paged_total.add(1);
      return;
    }
  }
  mem_bytes_ += size;
  messages_.push_back(Entry{std::move(m), {}, false});
}

bool MemoryStore::pop_entry(QueuedMessage* out) {
  Entry e = std::move(messages_.front());
  messages_.pop_front();
  out->redelivered = e.redelivered;
  out->store_id = 0;
  if (e.message) {
    mem_bytes_ -= e.message->size();
    out->message = std::move(e.message);
    return true;
  }
  std::string record;
  const bool read = page_->read(e.page, &record);
  out->message = read ? decode_record(std::move(record), registry_.message_bytes) : nullptr;
  paged_--;
  registry_.paged_messages.add(-1);
  registry_.paged_bytes.add(-static_cast<std::int64_t>(e.page.length));
  if (paged_ == 0) page_->reset();
  if (!out->message) {
    log_error("queue %s: a paged message could not be read back (errno %d); dropped",
              queue_.c_str(), errno);
    return false;
  }
  return true;
}

bool MemoryStore::pop(QueuedMessage* out) {
  while (!messages_.empty())
    if (pop_entry(out)) return true;
  return false;
}

void MemoryStore::requeue(std::vector<QueuedMessage> ms) {
  for (auto it = ms.rbegin(); it != ms.rend(); ++it) {
    mem_bytes_ += it->message->size();
    messages_.push_front(Entry{std::move(it->message), {}, true});
  }
}

std::size_t MemoryStore::purge() {
  const std::size_t n = messages_.size();
  messages_.clear();
  registry_.paged_messages.add(-static_cast<std::int64_t>(paged_));
  if (page_) {
    registry_.paged_bytes.add(-static_cast<std::int64_t>(page_->live_bytes()));
    page_->reset();
  }
  mem_bytes_ = 0;
  paged_ = 0;
  return n;
}

std::unique_ptr<QueueStore> MemoryStoreFactory::make(const std::string&, const std::string& queue,
                                                     const QueueOptions&) {
  return std::make_unique<MemoryStore>(queue, paging_, registry_);
}

}  // namespace weftd
