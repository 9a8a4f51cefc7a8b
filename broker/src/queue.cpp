// queue.cpp: see queue.h.
#include "queue.h"

#include <algorithm>
#include <mutex>

namespace weftd {

void Queue::enqueue(MessagePtr m) {
  std::lock_guard lock(mu_);
  if (deleted_) return;
  messages_.push_back(QueuedMessage{std::move(m), false});
  dispatch_locked();
}

void Queue::requeue(std::vector<QueuedMessage> ms) {
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
  return m;
}

void Queue::dispatch() {
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
      delivered = true;
      break;
    }
    if (!delivered) return;
  }
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
  return n;
}

}  // namespace weftd
