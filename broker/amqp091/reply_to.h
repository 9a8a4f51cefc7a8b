// amqp091/reply_to.h: direct reply-to (amq.rabbitmq.reply-to), RabbitMQ's RPC
// shortcut: a reply published to "amq.rabbitmq.reply-to.TOKEN" goes straight to the
// channel that consumes the pseudo-queue under TOKEN, through no queue.
//
// A channel registers when it consumes the pseudo-queue and unregisters when it cancels
// or closes; delivering holds the registry's lock, so the channel cannot go meanwhile.
// Lock order: the registry's lock → the channel's lock → its connection's output lock.
#pragma once

#include <string>
#include <unordered_map>

#include "core/message.h"
#include "weft/mutex.h"

namespace weftd {

class Channel;

inline constexpr const char* kReplyTo = "amq.rabbitmq.reply-to";

class ReplyToRegistry {
 public:
  void add(const std::string& token, Channel* ch);
  void remove(const std::string& token);
  // deliver() delivers m to the channel registered under token; false if none.
  bool deliver(const std::string& token, const MessagePtr& m);

 private:
  weft::Mutex mu_;
  std::unordered_map<std::string, Channel*> channels_;
};

}  // namespace weftd
