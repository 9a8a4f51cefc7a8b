// queue.cpp: see queue.h.
#include "queue.h"

#include <algorithm>
#include <mutex>

namespace weftd {

bool Queue::enqueue(MessagePtr m) {
  weft::ScopedLabels scope(labels_);
  std::lock_guard lock(mu_);
  if (deleted_) return false;
  messages_.push_back(QueuedMessage{std::move(m), false});
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
    messages_.push_front(std::move(*it));
  }
  dispatch_locked();
}

std::optional<QueuedMessage> Queue::get(std::size_t* remaining) {
  std::lock_guard lock(mu_);
  if (messages_.empty()) {
    *remaining = 0;
    return std::nullopt;
  }
  QueuedMessage m = std::move(messages_.front());
  messages_.pop_front();
  *remaining = messages_.size();
  flow_recheck_locked();
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
      QueuedMessage m = std::move(messages_.front());
      messages_.pop_front();
      c.deliver(*this, std::move(m));
      delivered_++;
      delivered = true;
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
  const std::size_t n = messages_.size();
  messages_.clear();
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
  std::size_t n = messages_.size();
  messages_.clear();
  flow_recheck_locked();
  return n;
}

}  // namespace weftd
