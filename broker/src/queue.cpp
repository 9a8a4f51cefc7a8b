// queue.cpp: see queue.h.
#include "queue.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "log.h"

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

MessagePtr decode_record(std::string r) {
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
  m->account();
  return m;
}

}  // namespace

Queue::~Queue() { clear_locked(); }  // (the paging counters)

void Queue::push_back_locked(MessagePtr m) {
  const std::uint64_t size = m->size();
  if (paging_ && paging_->window > 0 && mem_bytes_ + size > paging_->window) {
    if (!page_) page_ = std::make_unique<PageFile>(paging_->dir);
    QueuedMessage q;
    if (page_out(*page_, *m, &q.page)) {
      messages_.push_back(std::move(q));  // m, if no other queue holds it, goes now
      paged_++;
      QueuePagingStats& st = queue_paging_stats();
      st.messages.fetch_add(1, std::memory_order_relaxed);
      st.bytes.fetch_add(static_cast<std::int64_t>(q.page.length), std::memory_order_relaxed);
      st.paged_total.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  mem_bytes_ += size;
  messages_.push_back(QueuedMessage{std::move(m), {}, false});
}

bool Queue::pop_front_locked(QueuedMessage* out) {
  *out = std::move(messages_.front());
  messages_.pop_front();
  if (out->message) {
    mem_bytes_ -= out->message->size();
    return true;
  }
  std::string record;
  const bool read = page_->read(out->page, &record);
  out->message = read ? decode_record(std::move(record)) : nullptr;
  paged_--;
  QueuePagingStats& st = queue_paging_stats();
  st.messages.fetch_sub(1, std::memory_order_relaxed);
  st.bytes.fetch_sub(static_cast<std::int64_t>(out->page.length), std::memory_order_relaxed);
  if (paged_ == 0) page_->reset();
  if (!out->message) {
    log_error("queue %s: a paged message could not be read back (errno %d); dropped", name_.c_str(),
              errno);
    return false;
  }
  return true;
}

std::size_t Queue::clear_locked() {
  const std::size_t n = messages_.size();
  messages_.clear();
  QueuePagingStats& st = queue_paging_stats();
  st.messages.fetch_sub(static_cast<std::int64_t>(paged_), std::memory_order_relaxed);
  if (page_) {
    st.bytes.fetch_sub(static_cast<std::int64_t>(page_->live_bytes()), std::memory_order_relaxed);
    page_->reset();
  }
  mem_bytes_ = 0;
  paged_ = 0;
  return n;
}

bool Queue::enqueue(MessagePtr m) {
  weft::ScopedLabels scope(labels_);
  std::lock_guard lock(mu_);
  if (deleted_) return false;
  push_back_locked(std::move(m));
  dispatch_locked();
  return !consumers_.empty() && messages_.size() >= kFlowHigh;
}

void Queue::wait_flow() {
  std::unique_lock lock(mu_);
  if (flow_waiters_++ == 0) flow_release_ = delivered_ + kFlowCredit;
  const std::uint64_t release = flow_release_;
  for (;;) {
    const std::uint64_t before = delivered_;
    bool go = flow_cv_.wait_for(lock, std::chrono::seconds(1),
                                [&] { return !in_flow_locked() || delivered_ >= release; });
    if (go || delivered_ == before) break;  // released, or consumers stalled
  }
  flow_waiters_--;
}

void Queue::flow_recheck_locked() {
  if (flow_waiters_ > 0 && (!in_flow_locked() || delivered_ >= flow_release_))
    flow_cv_.notify_all();
}

void Queue::requeue(std::vector<QueuedMessage> ms) {
  weft::ScopedLabels scope(labels_);
  std::lock_guard lock(mu_);
  if (deleted_) return;
  for (auto it = ms.rbegin(); it != ms.rend(); ++it) {
    it->redelivered = true;
    mem_bytes_ += it->message->size();
    messages_.push_front(std::move(*it));
  }
  dispatch_locked();
}

std::optional<QueuedMessage> Queue::get(std::size_t* remaining) {
  std::lock_guard lock(mu_);
  QueuedMessage m;
  bool got = false;
  while (!got && !messages_.empty()) got = pop_front_locked(&m);
  *remaining = messages_.size();
  flow_recheck_locked();
  if (!got) return std::nullopt;
  return m;
}

void Queue::dispatch() {
  weft::ScopedLabels scope(labels_);
  std::lock_guard lock(mu_);
  dispatch_locked();
}

void Queue::dispatch_locked() {
  // Round-robin: each message goes to the next consumer (after the last one served)
  // that has credit; stop when a full turn finds none.
  while (!messages_.empty() && !consumers_.empty()) {
    bool delivered = false;
    for (std::size_t tried = 0; tried < consumers_.size(); tried++) {
      std::size_t i = next_consumer_++ % consumers_.size();
      QueueConsumer& c = *consumers_[i];
      if (!c.has_credit()) continue;
      QueuedMessage m;
      delivered = true;  // (or a message that could not be read back was dropped)
      if (!pop_front_locked(&m)) break;
      c.deliver(*this, std::move(m));
      delivered_++;
      break;
    }
    if (!delivered) break;
  }
  flow_recheck_locked();
}

bool Queue::add_consumer(std::shared_ptr<QueueConsumer> c, bool exclusive) {
  std::lock_guard lock(mu_);
  if (exclusive_consumer_ || (exclusive && !consumers_.empty())) return false;
  exclusive_consumer_ = exclusive;
  consumers_.push_back(std::move(c));
  had_consumer_ = true;
  dispatch_locked();
  return true;
}

bool Queue::remove_consumer(QueueConsumer* c) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(consumers_.begin(), consumers_.end(),
                         [c](const auto& p) { return p.get() == c; });
  if (it == consumers_.end()) return false;
  consumers_.erase(it);
  exclusive_consumer_ = false;
  flow_recheck_locked();
  return consumers_.empty() && had_consumer_ && opts_.auto_delete && !deleted_;
}

std::size_t Queue::mark_deleted() {
  // Consumers hear of it under the lock: a channel that is closing removes its
  // consumers under this lock too, so none is told after its channel is gone.
  std::lock_guard lock(mu_);
  deleted_ = true;
  const std::size_t n = clear_locked();
  for (auto& c : consumers_) c->cancelled_by_server();
  consumers_.clear();
  flow_recheck_locked();
  return n;
}

bool Queue::deleted() {
  std::lock_guard lock(mu_);
  return deleted_;
}

std::size_t Queue::message_count() {
  std::lock_guard lock(mu_);
  return messages_.size();
}

std::size_t Queue::consumer_count() {
  std::lock_guard lock(mu_);
  return consumers_.size();
}

std::size_t Queue::purge() {
  std::lock_guard lock(mu_);
  const std::size_t n = clear_locked();
  flow_recheck_locked();
  return n;
}

}  // namespace weftd
