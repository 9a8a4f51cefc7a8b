// amqp091/reply_to.cpp: see amqp091/reply_to.h.
#include "amqp091/reply_to.h"

#include <mutex>

#include "amqp091/channel.h"

namespace weftd {

void ReplyToRegistry::add(const std::string& token, Channel* ch) {
  std::lock_guard lock(mu_);
  channels_[token] = ch;
}

void ReplyToRegistry::remove(const std::string& token) {
  std::lock_guard lock(mu_);
  channels_.erase(token);
}

bool ReplyToRegistry::deliver(const std::string& token, const MessagePtr& m) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(token);
  if (it == channels_.end()) return false;
  it->second->deliver_reply(m);
  return true;
}

}  // namespace weftd
