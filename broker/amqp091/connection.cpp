// amqp091/connection.cpp: the reader, its channel table and the heartbeat
// (amqp091/connection.h). The handshake is in handshake.cpp, output in writer.cpp.
#include "amqp091/connection.h"

#include <cstring>
#include <mutex>

#include "amqp091/amqp_error.h"
#include "amqp091/channel.h"
#include "base/clock.h"
#include "base/log.h"
#include "weft/labels.h"
#include "weft/runtime.h"
#include "weft/time.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

Connection::Connection(const ServerContext& server, weft::net::TcpConn conn, std::uint64_t id)
    : server_(server),
      conn_(std::move(conn)),
      id_(id),
      stats_(server.metrics->add_connection(id, conn_.remote_addr().to_string())),
      decoder_(server.limits.frame_max),
      out_(conn_, server.limits.max_output_backlog, *stats_) {}

Connection::~Connection() = default;

// heartbeat_tick() runs every half heartbeat interval on a timer (Go's time.AfterFunc:
// a short-lived fiber), so that an idle connection needs no fiber of its own for it: it
// closes a connection whose client was not heard from within two intervals, and sends a
// heartbeat frame when nothing else went out for half of one.
void Connection::heartbeat_tick() {
  const std::int64_t interval_ns = std::int64_t(heartbeat_) * 1'000'000'000;
  const std::int64_t now = monotonic_ns();
  if (now - last_read_ns_.load(std::memory_order_relaxed) > 2 * interval_ns) {
    log_warn("connection %llu: missed heartbeats from client, closing",
             static_cast<unsigned long long>(id_));
    interrupted_.store(true, std::memory_order_relaxed);
    conn_.close();  // the reader sees it and ends the connection
    return;
  }
  if (now - out_.last_write_ns() >= interval_ns / 2 && !out_.send_heartbeat()) return;
  std::lock_guard lock(heartbeat_mu_);
  if (!heartbeat_stopped_ && heartbeat_timer_)
    heartbeat_timer_->reset(std::chrono::milliseconds(heartbeat_) * 500);
}

// ---- the reader ---------------------------------------------------------------------

void Connection::serve() {
  // Profiles and fiber dumps (/debug/pprof) can be sliced per connection: the reader,
  // and the writer it starts, carry these labels (`go tool pprof -tagfocus
  // connection=12`).
  labels_ = weft::PreparedLabels(
      {{"connection", std::to_string(id_)}, {"peer", conn_.remote_addr().to_string()}});
  out_.set_labels(labels_);
  weft::ScopedLabels labelled(labels_);
  last_read_ns_ = monotonic_ns();
  out_.note_write_time(monotonic_ns());
  if (!handshake()) {
    conn_.close();
    return;
  }
  log_info("connection %llu: open from %s (user %s)", static_cast<unsigned long long>(id_),
           conn_.remote_addr().to_string().c_str(), channel_ctx_.user.c_str());
  if (heartbeat_ > 0) {
    std::lock_guard lock(heartbeat_mu_);
    heartbeat_timer_ = weft::Timer::after_func(std::chrono::milliseconds(heartbeat_) * 500,
                                               [w = weak_from_this()] {
                                                 if (auto c = w.lock()) c->heartbeat_tick();
                                               });
  }
  read_loop();
  shutdown();
  out_.wait();
  conn_.close();
  log_info("connection %llu: closed", static_cast<unsigned long long>(id_));
}

void Connection::read_loop() {
  for (;;) {
    amqp::Frame f;
    amqp::ProtocolError err;
    for (;;) {
      auto st = decoder_.next(&f, &err);
      if (st == amqp::FrameDecoder::Status::need_more) break;
      if (st == amqp::FrameDecoder::Status::error) {
        // The stream cannot be trusted past a framing error: say why, and end.
        if (!closing_) close_with(err.code, err.text);
        return;
      }
      if (f.type == amqp::FrameType::heartbeat) continue;
      if (f.channel == 0)
        handle_channel0(f);
      else
        handle_channel_frame(f);
      if (done_) return;
    }
    flush_confirms();
    if (publisher_.publishes && server_.memory->alarm()) wait_while_memory_alarm();
    if (publisher_.flow_queue) wait_while_flow();
    if (!read_more()) return;  // eof, reset, closed by us, or the close-ok deadline
  }
}

bool Connection::read_more() {
  if (decoder_.buffered() == 0) {
    // Between frames with nothing to read: hold no 16 KiB read buffer while idle.
    auto ready = conn_.readable();
    if (ready && !*ready) {
      decoder_.release();
      // Wait inside a read into a small buffer on this stack rather than in
      // wait_readable(): the bytes that end the wait come with it, so a message that
      // arrives after a pause costs one system call, not a MSG_PEEK and then a read.
      char first[512];
      auto n = conn_.read(first, sizeof first);
      if (!n) return false;
      auto space = decoder_.prepare();
      std::memcpy(space.data(), first, *n);
      decoder_.commit(*n);
      last_read_ns_.store(monotonic_ns(), std::memory_order_relaxed);
      stats_->recv_bytes.add(static_cast<std::int64_t>(*n));
      return true;
    }
  }
  return read_chunk();
}

bool Connection::read_chunk() {
  auto space = decoder_.prepare();
  auto n = conn_.read(space.data(), space.size());
  if (!n) return false;
  decoder_.commit(*n);
  last_read_ns_.store(monotonic_ns(), std::memory_order_relaxed);
  stats_->recv_bytes.add(static_cast<std::int64_t>(*n));
  return true;
}

void Connection::handle_channel0(const amqp::Frame& f) {
  if (f.type != amqp::FrameType::method) {
    close_with(ReplyCode::unexpected_frame, "content frame on channel 0");
    return;
  }
  amqp::Reader r(f.payload);
  bool unknown = false;
  auto m = amqp::decode_method(r, &unknown);
  if (!m || !r.at_end()) {
    close_with(unknown ? ReplyCode::command_invalid : ReplyCode::syntax_error,
               "malformed method frame on channel 0");
    return;
  }
  if (std::holds_alternative<amqp::ConnectionClose>(*m)) {
    // Let go of everything first: a client that has its close-ok must find its exclusive
    // queues gone (and its unacked messages requeued) from any other connection.
    release();
    out_.send_method(0, amqp::ConnectionCloseOk{});
    done_ = true;
  } else if (std::holds_alternative<amqp::ConnectionCloseOk>(*m)) {
    done_ = true;
  } else if (!closing_) {
    const amqp::MethodInfo& info = amqp::method_info(*m);
    close_with(ReplyCode::command_invalid, std::string("unexpected method ") + info.name,
               info.class_id, info.method_id);
  }
}

void Connection::handle_channel_frame(const amqp::Frame& f) {
  if (closing_) return;  // waiting for close-ok: everything else is dropped
  if (f.channel > channel_max_) {
    close_with(ReplyCode::channel_error, "channel " + std::to_string(f.channel) +
                                             " exceeds channel_max " +
                                             std::to_string(channel_max_));
    return;
  }
  auto it = channels_.find(f.channel);
  if (it == channels_.end()) {
    if (f.type == amqp::FrameType::method) {
      amqp::Reader r(f.payload);
      bool unknown = false;
      auto m = amqp::decode_method(r, &unknown);
      if (m && r.at_end() && std::holds_alternative<amqp::ChannelOpen>(*m)) {
        channels_.emplace(f.channel, std::make_unique<Channel>(channel_ctx_, f.channel));
        stats_->channels.set(static_cast<std::int64_t>(channels_.size()));
        out_.send_method(f.channel, amqp::ChannelOpenOk{});
        return;
      }
    }
    close_with(ReplyCode::channel_error,
               "expected 'channel.open' on channel " + std::to_string(f.channel));
    return;
  }
  Channel& ch = *it->second;
  const bool ch_closing = closing_channels_.count(f.channel) > 0;
  amqp::ProtocolError err;
  auto st = ch.assembler().feed(f, &err);
  if (st == amqp::ContentAssembler::Status::need_more) return;
  if (st == amqp::ContentAssembler::Status::error) {
    if (ch_closing) return;
    if (err.hard())
      close_with(err.code, err.text, err.class_id, err.method_id);
    else
      close_channel(ch, err.code, err.text, err.class_id, err.method_id);
    return;
  }
  amqp::Command& cmd = ch.assembler().command();
  if (std::holds_alternative<amqp::ChannelClose>(cmd.method)) {
    if (!ch_closing) ch.close();
    out_.send_method(f.channel, amqp::ChannelCloseOk{});
    closing_channels_.erase(f.channel);
    channels_.erase(it);
    stats_->channels.set(static_cast<std::int64_t>(channels_.size()));
    return;
  }
  if (std::holds_alternative<amqp::ChannelCloseOk>(cmd.method)) {
    if (ch_closing) {
      closing_channels_.erase(f.channel);
      channels_.erase(it);
      stats_->channels.set(static_cast<std::int64_t>(channels_.size()));
    }
    return;
  }
  if (ch_closing) return;  // after our channel.close, only close-ok matters
  if (std::holds_alternative<amqp::ChannelOpen>(cmd.method)) {
    close_with(ReplyCode::channel_error, "second 'channel.open' seen", 20, 10);
    return;
  }
  try {
    ch.handle(cmd);
  } catch (const AmqpException& e) {
    const amqp::MethodInfo& info = amqp::method_info(cmd.method);
    if (amqp::is_hard_error(e.code))
      close_with(e.code, e.text, info.class_id, info.method_id);
    else
      close_channel(ch, e.code, e.text, info.class_id, info.method_id);
  }
}

void Connection::close_channel(Channel& ch, ReplyCode code, const std::string& text,
                               std::uint16_t class_id, std::uint16_t method_id) {
  out_.send_method(ch.id(), amqp::ChannelClose{static_cast<std::uint16_t>(code),
                                               reply_text(code, text), class_id, method_id});
  ch.close();
  closing_channels_.insert(ch.id());
}

void Connection::close_with(ReplyCode code, const std::string& text, std::uint16_t class_id,
                            std::uint16_t method_id) {
  if (closing_) return;
  closing_ = true;
  log_info("connection %llu: closing: %d %s", static_cast<unsigned long long>(id_),
           static_cast<int>(code), text.c_str());
  out_.send_method(0, amqp::ConnectionClose{static_cast<std::uint16_t>(code),
                                            reply_text(code, text), class_id, method_id});
  // Wait a little for close-ok; a client that never sends it is cut off.
  (void)conn_.set_read_deadline(weft::net::after(std::chrono::seconds(3)));
}

void Connection::force_close(ReplyCode code, const std::string& text) {
  interrupted_.store(true, std::memory_order_relaxed);
  out_.send_method(
      0, amqp::ConnectionClose{static_cast<std::uint16_t>(code), reply_text(code, text), 0, 0});
  (void)conn_.set_read_deadline(weft::net::after(std::chrono::seconds(1)));
}

void Connection::flush_confirms() {
  for (auto& [id, ch] : channels_)
    if (!closing_channels_.count(id)) ch->flush_confirms();
}

void Connection::wait_while_memory_alarm() {
  // RabbitMQ's flow control: a publishing connection is not read while the alarm lasts,
  // so TCP backpressure holds its publisher; consumers' connections go on (their acks
  // are what brings memory down). The alarm is checked every 10 ms rather than
  // signalled, so that freeing a message costs no more than an atomic subtraction.
  log_info("connection %llu: blocked (memory high watermark)",
           static_cast<unsigned long long>(id_));
  if (blocked_notify_) out_.send_method(0, amqp::ConnectionBlocked{"low on memory"});
  while (server_.memory->alarm() && !interrupted_.load(std::memory_order_relaxed) &&
         !out_.failed()) {
    weft::sleep_for(std::chrono::milliseconds(10));
    last_read_ns_.store(monotonic_ns(), std::memory_order_relaxed);  // not the client's silence
  }
  if (blocked_notify_) out_.send_method(0, amqp::ConnectionUnblocked{});
  log_info("connection %llu: unblocked", static_cast<unsigned long long>(id_));
}

void Connection::wait_while_flow() {
  // Not reading the socket is the whole mechanism (core/queue.h): TCP holds the
  // publisher. A wait is bounded (kFlowCredit deliveries, or a second without one), so
  // the heartbeat monitor and a connection that is ending are heard from soon enough.
  std::shared_ptr<Queue> q = std::move(publisher_.flow_queue);
  publisher_.flow_queue = nullptr;
  q->wait_flow();
  last_read_ns_.store(monotonic_ns(), std::memory_order_relaxed);
}

void Connection::release() {
  for (auto& [id, ch] : channels_) ch->close();
  channels_.clear();
  stats_->channels.set(0);
  if (VHost* vh = channel_ctx_.vhost)
    for (auto& q : vh->queues_owned_by(id_)) vh->delete_queue(q);
}

void Connection::shutdown() {
  release();
  {
    std::lock_guard lock(heartbeat_mu_);
    heartbeat_stopped_ = true;
    if (heartbeat_timer_) heartbeat_timer_->stop();
  }
  out_.close();
}

}  // namespace weftd
