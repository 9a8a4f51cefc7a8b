// broker.h: what every connection of a weftd process shares -- configuration, the
// virtual hosts, connection ids -- and the accept loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>
#include <string>

#include "vhost.h"
#include "weft/mutex.h"
#include "weft/net.h"

namespace weftd {

class Connection;
class Channel;

struct Config {
  std::string amqp_listen = "127.0.0.1:5672";
  std::uint16_t channel_max = 2047;
  std::uint32_t frame_max = 131072;
  std::uint16_t heartbeat = 60;  // seconds; the smaller non-zero of ours and the client's
  std::uint64_t max_message_size = 128ull << 20;
  std::chrono::seconds handshake_timeout{10};
  std::string default_user = "guest", default_pass = "guest";
  // Per-connection output held back before consumers stop getting deliveries.
  std::size_t max_output_backlog = 1 << 20;
  // Message bytes above which publishing connections are blocked (connection.blocked,
  // and their sockets are not read) until consumers bring it down. 0: 40% of RAM, as
  // RabbitMQ's default vm_memory_high_watermark.
  std::uint64_t memory_high_watermark = 0;
  // Bytes of ready messages a queue keeps in memory; past that it writes new messages
  // to an unlinked file in page_dir (empty: $TMPDIR, else /tmp) until its head reaches
  // them (queue.h). 0: every message stays in memory.
  std::uint64_t queue_memory_window = 64ull << 20;
  std::string page_dir;
};

class Broker {
 public:
  explicit Broker(Config cfg);
  const Config& config() const { return cfg_; }
  VHost* vhost(const std::string& name) { return name == "/" ? &default_vhost_ : nullptr; }
  std::uint64_t next_connection_id() { return ++connection_ids_; }
  // Direct reply-to (amq.rabbitmq.reply-to): token → the consuming channel. A channel
  // registers when it consumes the pseudo-queue and unregisters when it cancels or
  // closes; delivering holds the registry lock, so the channel cannot go meanwhile.
  void register_reply_to(const std::string& token, Channel* ch);
  void unregister_reply_to(const std::string& token);
  // deliver_reply_to() delivers m to the channel registered under token; false if none.
  bool deliver_reply_to(const std::string& token, const MessagePtr& m);

  // memory_alarm(): live messages hold more than the high watermark.
  bool memory_alarm() const;
  std::uint64_t memory_high_watermark() const { return watermark_; }

  // serve() accepts connections on `ln` until it is closed, a fiber per connection,
  // and returns once every connection has ended.
  void serve(weft::net::TcpListener& ln);
  // close_all() asks every open connection to close (320 CONNECTION_FORCED).
  void close_all();
  std::size_t connection_count();

 private:
  const Config cfg_;
  const std::uint64_t watermark_;
  const QueuePaging paging_;
  VHost default_vhost_;
  std::atomic<std::uint64_t> connection_ids_{0};
  weft::Mutex mu_;
  std::set<std::shared_ptr<Connection>> connections_;
  weft::Mutex reply_mu_;
  std::unordered_map<std::string, Channel*> reply_to_;
};

}  // namespace weftd
