// amqp091/channel_context.h: what a channel needs of its connection, and no more.
//
// A connection fills one ChannelContext after its handshake (the vhost and user are
// known then) and hands it to every channel it opens; a channel never sees the
// Connection, so no channel file includes connection.h. Everything pointed to outlives
// the connection's channels.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "amqp091/reply_to.h"
#include "amqp091/writer.h"
#include "core/memory_monitor.h"
#include "core/queue.h"
#include "core/vhost.h"
#include "metrics/metrics.h"

namespace weftd {

// PublisherState: what publishing on any channel tells the connection's reader, which
// acts on it between reads. Reader fiber only.
struct PublisherState {
  bool publishes = false;             // the memory alarm blocks this connection
  std::shared_ptr<Queue> flow_queue;  // a publish put this queue in flow (core/queue.h)
};

struct ChannelContext {
  std::uint64_t connection_id = 0;  // exclusive queues' owner
  VHost* vhost = nullptr;
  std::string user;
  std::uint64_t max_message_size = 0;
  bool consumer_cancel_notify = false;  // the client's capability
  Writer* out = nullptr;
  PublisherState* publisher = nullptr;
  ReplyToRegistry* reply_to = nullptr;
  MemoryMonitor* memory = nullptr;  // where published messages are accounted
  metrics::Registry* metrics = nullptr;
};

}  // namespace weftd
