// server/broker.h: the composition root -- what a weftd process is made of, wired
// together once: the configuration, the metrics registry, the queue store, the vhosts,
// the authenticator, the direct reply-to registry; then the accept loop, a fiber per
// connection, and shutdown.
//
// Nothing below server/ knows the Broker: each room gets the narrow context it needs
// (amqp091's ServerContext, core's QueueStoreFactory and MemoryMonitor, http's
// registry). Declaration order is destruction order in reverse: everything a connection
// uses is declared before the connection set.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "amqp091/connection.h"
#include "amqp091/reply_to.h"
#include "auth/authenticator.h"
#include "config/config.h"
#include "core/memory_monitor.h"
#include "core/vhost.h"
#include "metrics/metrics.h"
#include "store/memory_store.h"
#include "weft/mutex.h"
#include "weft/net.h"

namespace weftd {

class Broker {
 public:
  explicit Broker(const Config& cfg);
  ~Broker();

  metrics::Registry& metrics() { return metrics_; }

  // serve() accepts connections on `ln` until it is closed, a fiber per connection,
  // and returns once every connection has ended.
  void serve(weft::net::TcpListener& ln);
  // close_all() asks every open connection to close (320 CONNECTION_FORCED).
  void close_all();

 private:
  const Config cfg_;
  metrics::Registry metrics_;
  MemoryMonitor memory_;
  MemoryStoreFactory stores_;
  auth::Authenticator auth_;
  ReplyToRegistry reply_to_;
  std::map<std::string, std::unique_ptr<VHost>> vhosts_;  // fixed after construction
  ServerContext context_;
  std::atomic<std::uint64_t> connection_ids_{0};
  weft::Mutex mu_;  // guards connections_
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace weftd
