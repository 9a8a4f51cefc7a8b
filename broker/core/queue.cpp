// core/queue.cpp: see core/queue.h.
#include "core/queue.h"

#include <algorithm>
#include <mutex>

namespace weftd {

Queue::Queue(std::string name, QueueOptions opts, std::unique_ptr<QueueStore> store,
             std::shared_ptr<metrics::QueueStats> stats)
    : name_(std::move(name)),
      opts_(std::move(opts)),
      labels_({{"queue", name_}}),
      stats_(std::move(stats)),
      store_(std::move(store)) {}

Queue::~Queue() = default;

bool Queue::enqueue(MessagePtr m) {
  weft::ScopedLabels scope(labels_);
  std::lock_guard lock(mu_);
  if (deleted_) return false;
  store_->push(std::move(m));
  stats_->published.add();
  dispatch_locked();
  return !consumers_.empty() && store_->size() >= kFlowHigh;
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
  stats_->redelivered.add(ms.size());
  store_->requeue(std::move(ms));
  dispatch_locked();
}

void Queue::settle(const std::vector<QueuedMessage>& ms, bool acked) {
  weft::ScopedLabels scope(labels_);
  std::lock_guard lock(mu_);
  if (acked) stats_->acked.add(ms.size());
  if (deleted_) return;
  for (const QueuedMessage& m : ms) store_->settle(m);
  dispatch_locked();
}

std::optional<QueuedMessage> Queue::get(std::size_t* remaining) {
  std::lock_guard lock(mu_);
  QueuedMessage m;
  const bool got = !deleted_ && store_->pop(&m);
  *remaining = store_->size();
  if (got) stats_->delivered.add();
  note_ready_locked();
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
  const std::uint64_t before = delivered_;
  while (store_->size() > 0 && !consumers_.empty()) {
    bool delivered = false;
    for (std::size_t tried = 0; tried < consumers_.size(); tried++) {
      std::size_t i = next_consumer_++ % consumers_.size();
      QueueConsumer& c = *consumers_[i];
      if (!c.has_credit()) continue;
      QueuedMessage m;
      if (!store_->pop(&m)) break;  // (the rest could not be read back)
      c.deliver(*this, std::move(m));
      delivered_++;
      delivered = true;
      break;
    }
    if (!delivered) break;
  }
  stats_->delivered.add(delivered_ - before);
  note_ready_locked();
  flow_recheck_locked();
}

bool Queue::add_consumer(std::shared_ptr<QueueConsumer> c, bool exclusive) {
  std::lock_guard lock(mu_);
  if (exclusive_consumer_ || (exclusive && !consumers_.empty())) return false;
  exclusive_consumer_ = exclusive;
  consumers_.push_back(std::move(c));
  stats_->consumers.set(static_cast<std::int64_t>(consumers_.size()));
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
  stats_->consumers.set(static_cast<std::int64_t>(consumers_.size()));
  exclusive_consumer_ = false;
  flow_recheck_locked();
  return consumers_.empty() && had_consumer_ && opts_.auto_delete && !deleted_;
}

std::size_t Queue::mark_deleted() {
  // Consumers hear of it under the lock: a channel that is closing removes its
  // consumers under this lock too, so none is told after its channel is gone.
  std::lock_guard lock(mu_);
  deleted_ = true;
  const std::size_t n = store_->purge();
  for (auto& c : consumers_) c->cancelled_by_server();
  consumers_.clear();
  stats_->consumers.set(0);
  note_ready_locked();
  flow_recheck_locked();
  return n;
}

bool Queue::deleted() {
  std::lock_guard lock(mu_);
  return deleted_;
}

std::size_t Queue::message_count() {
  std::lock_guard lock(mu_);
  return store_->size();
}

std::size_t Queue::consumer_count() {
  std::lock_guard lock(mu_);
  return consumers_.size();
}

std::size_t Queue::purge() {
  std::lock_guard lock(mu_);
  const std::size_t n = store_->purge();
  note_ready_locked();
  flow_recheck_locked();
  return n;
}

}  // namespace weftd
