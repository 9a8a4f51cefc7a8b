// connection.h: one AMQP connection -- a reader fiber and a writer fiber.
//
// The reader (serve()) does the handshake, then reads frames and runs each command to
// completion in plain blocking style: declares, binds, routing a publish into its
// queues, acks. The writer sleeps on a one-slot "kick" channel; whoever appends frames
// to the output buffer kicks it, and it writes everything that has accumulated with one
// system call. A kick while one is pending is a no-op, so a burst of deliveries costs
// one wake-up and one write, not one per message. The writer exists while there is
// output: after a second without writing it retires, and the next kick starts a new
// one (kick()), so an idle connection costs one fiber stack, not two.
//
// Heartbeats run on a timer (Timer::after_func) at half the negotiated interval: it
// queues a heartbeat frame when nothing was written for that long, and closes the
// connection when nothing was read for two intervals.
//
// Errors: a soft error closes the channel (channel.close with RabbitMQ's code and text);
// a hard error closes the connection (connection.close, then wait briefly for close-ok).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "weft/amqp/frame.h"
#include "weft/chan.h"
#include "weft/labels.h"
#include "weft/mutex.h"
#include "weft/net.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace weftd {

class Broker;
class Channel;
class Queue;
class VHost;

// ChannelError: thrown by command handlers; soft codes close the channel, hard ones the
// connection (weft::amqp::is_hard_error).
struct AmqpException {
  weft::amqp::ReplyCode code;
  std::string text;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Broker& broker, weft::net::TcpConn conn, std::uint64_t id);
  ~Connection();

  // serve() runs the connection to its end, in the calling fiber.
  void serve();

  std::uint64_t id() const { return id_; }
  Broker& broker() { return broker_; }
  VHost& vhost() { return *vhost_; }
  std::uint32_t frame_max() const { return frame_max_; }
  bool consumer_cancel_notify() const { return cancel_notify_; }

  // Output, from any fiber. Frames for one channel keep their order.
  void send_method(std::uint16_t channel, const weft::amqp::Method& m);
  // send_content(): a method with its content; the properties as wire bytes (Message).
  void send_content(std::uint16_t channel, const weft::amqp::Method& m,
                    std::string_view properties_wire, std::string_view body);
  // note_publisher(): this connection publishes, so the memory alarm blocks it.
  void note_publisher() { publisher_ = true; }
  // note_flow(): a publish on this connection put q in flow (queue.h); the reader stops
  // reading until q is out of it. Reader fiber only.
  void note_flow(const std::shared_ptr<Queue>& q) { flow_queue_ = q; }
  // backlogged(): output has piled up; q will be dispatched again once it drains.
  bool backlogged(const std::shared_ptr<Queue>& q);

  // force_close() sends connection.close (e.g. 320 CONNECTION_FORCED at shutdown) from
  // any fiber; the reader ends on the client's close-ok or a short deadline.
  void force_close(weft::amqp::ReplyCode code, const std::string& text);

 private:
  bool handshake();
  std::optional<weft::amqp::Method> read_handshake_method();
  void close_now(weft::amqp::ReplyCode code, const std::string& text);  // during handshake
  void read_loop();
  // writer_loop() writes what send_*() queued, one write per batch, and keeps the
  // heartbeats (0: none).
  void writer_loop();
  void kick();
  bool start_writer();
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

  Broker& broker_;
  weft::net::TcpConn conn_;
  const std::uint64_t id_;
  VHost* vhost_ = nullptr;
  weft::amqp::FrameDecoder decoder_;
  std::uint16_t channel_max_ = 0;
  std::uint32_t frame_max_ = weft::amqp::kDefaultFrameMax;
  std::uint16_t heartbeat_ = 0;
  bool cancel_notify_ = false;
  bool blocked_notify_ = false;  // the client understands connection.blocked
  bool publisher_ = false;
  std::shared_ptr<Queue> flow_queue_;  // reader only: see note_flow()
  bool closing_ = false;               // we sent connection.close: wait for close-ok
  bool done_ = false;
  std::unordered_map<std::uint16_t, std::unique_ptr<Channel>> channels_;
  std::set<std::uint16_t> closing_channels_;  // we sent channel.close: await close-ok

  // Output: guarded by out_mu_ (the last lock in every lock order).
  weft::Mutex out_mu_;
  weft::amqp::FrameEncoder out_;
  std::vector<std::weak_ptr<Queue>> backlogged_;
  bool output_closed_ = false;
  weft::Chan<int> kick_{1};
  std::atomic<bool> writer_running_{false};     // see kick()
  weft::WaitGroup writers_;                     // the running writer, if any
  weft::PreparedLabels labels_;                 // the reader's, for the writers it starts
  std::optional<weft::Timer> heartbeat_timer_;  // guarded by out_mu_
  std::atomic<std::int64_t> last_read_ns_{0}, last_write_ns_{0};
  std::atomic<std::size_t> out_bytes_{0};
  // interrupted_: the connection is ending for a reason the reader may not see while it
  // waits out a memory alarm (socket failure, missed heartbeats, broker shutdown).
  std::atomic<bool> interrupted_{false};
};

}  // namespace weftd
