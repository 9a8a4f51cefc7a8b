// amqp091/connection.h: one AMQP connection -- the reader fiber, its channel table,
// and its writer (RabbitMQ's rabbit_reader).
//
// The reader (serve()) does the handshake (handshake.cpp), then reads frames and runs
// each command to completion in plain blocking style: declares, binds, routing a
// publish into its queues, acks. Output goes through the Writer (amqp091/writer.h),
// whose fiber writes each batch with one system call. Channels get what they need
// through a ChannelContext (amqp091/channel_context.h), never the Connection.
//
// Heartbeats run on a timer (Timer::after_func) at half the negotiated interval: it
// queues a heartbeat frame when nothing was written for that long, and closes the
// connection when nothing was read for two intervals.
//
// Errors: a soft error closes the channel (channel.close with RabbitMQ's code and text);
// a hard error closes the connection (connection.close, then wait briefly for close-ok).
// The channel table is the reader's alone: nothing else reads it (stats go through the
// metrics registry's blocks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "amqp091/channel_context.h"
#include "amqp091/reply_to.h"
#include "amqp091/writer.h"
#include "auth/authenticator.h"
#include "core/memory_monitor.h"
#include "core/vhost.h"
#include "metrics/metrics.h"
#include "weft/amqp/frame.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/net.h"
#include "weft/time.h"

namespace weftd {

class Channel;

// ConnectionLimits: what the server offers every client (config/config.h's values).
struct ConnectionLimits {  // (the defaults are Config's: server/ copies them in)
  std::uint16_t channel_max = 0;
  std::uint32_t frame_max = 0;
  std::uint16_t heartbeat = 0;
  std::uint64_t max_message_size = 0;
  std::chrono::seconds handshake_timeout{0};
  std::size_t max_output_backlog = 0;
};

// ServerContext: what a connection needs of the server that accepted it. Everything
// pointed to outlives every connection (server/broker.h owns it).
struct ServerContext {
  ConnectionLimits limits;
  const auth::Authenticator* auth = nullptr;
  std::function<VHost*(const std::string&)> find_vhost;
  ReplyToRegistry* reply_to = nullptr;
  MemoryMonitor* memory = nullptr;
  metrics::Registry* metrics = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(const ServerContext& server, weft::net::TcpConn conn, std::uint64_t id);
  ~Connection();

  // serve() runs the connection to its end, in the calling fiber.
  void serve();
  std::uint64_t id() const { return id_; }

  // force_close() sends connection.close (e.g. 320 CONNECTION_FORCED at shutdown) from
  // any fiber; the reader ends on the client's close-ok or a short deadline.
  void force_close(weft::amqp::ReplyCode code, const std::string& text);

 private:
  // handshake.cpp
  bool handshake();
  std::optional<weft::amqp::Method> read_handshake_method();
  void close_now(weft::amqp::ReplyCode code, const std::string& text);  // during handshake

  void read_loop();
  // read_more() waits for input and reads it into the decoder, holding no read buffer
  // while it waits; read_chunk() is one plain read into the decoder. Both: false at the
  // end of the stream (eof, reset, closed by us, a deadline).
  bool read_more();
  bool read_chunk();
  void heartbeat_tick();
  void handle_channel0(const weft::amqp::Frame& f);
  void handle_channel_frame(const weft::amqp::Frame& f);
  // close_with() sends connection.close and then drops everything but close-ok.
  void close_with(weft::amqp::ReplyCode code, const std::string& text, std::uint16_t class_id = 0,
                  std::uint16_t method_id = 0);
  void close_channel(Channel& ch, weft::amqp::ReplyCode code, const std::string& text,
                     std::uint16_t class_id, std::uint16_t method_id);
  void flush_confirms();
  void wait_while_memory_alarm();
  void wait_while_flow();
  void release();  // closes the channels and deletes the exclusive queues (idempotent)
  void shutdown();

  const ServerContext& server_;
  weft::net::TcpConn conn_;
  const std::uint64_t id_;
  const std::shared_ptr<metrics::ConnectionStats> stats_;
  weft::amqp::FrameDecoder decoder_;
  Writer out_;
  std::uint16_t channel_max_ = 0;
  std::uint32_t frame_max_ = weft::amqp::kDefaultFrameMax;
  std::uint16_t heartbeat_ = 0;
  bool blocked_notify_ = false;  // the client understands connection.blocked

  // Reader-fiber state.
  ChannelContext channel_ctx_;  // filled by the handshake
  PublisherState publisher_;
  bool closing_ = false;  // we sent connection.close: wait for close-ok
  bool done_ = false;
  std::unordered_map<std::uint16_t, std::unique_ptr<Channel>> channels_;
  std::set<std::uint16_t> closing_channels_;  // we sent channel.close: await close-ok
  weft::PreparedLabels labels_;               // the reader's, for the writers it starts

  weft::Mutex heartbeat_mu_;                    // guards heartbeat_timer_ and its stop
  std::optional<weft::Timer> heartbeat_timer_;  // guarded by heartbeat_mu_
  bool heartbeat_stopped_ = false;              // guarded by heartbeat_mu_
  std::atomic<std::int64_t> last_read_ns_{0};
  // interrupted_: the connection is ending for a reason the reader may not see while it
  // waits out a memory alarm (missed heartbeats, broker shutdown; a failed write is
  // out_.failed()).
  std::atomic<bool> interrupted_{false};
};

}  // namespace weftd
