// connection.cpp: the handshake, the reader, the writer and the heartbeat (connection.h).
#include "connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <mutex>

#include "broker.h"
#include "channel.h"
#include "log.h"
#include "vhost.h"
#include "weft/labels.h"
#include "weft/runtime.h"
#include "weft/select.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_loopback(const weft::net::Address& a) {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.data());
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.data());
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
  }
  return a.family() == AF_UNIX;
}

amqp::FieldTable server_properties() {
  amqp::FieldTable caps{
      {"publisher_confirms", true}, {"exchange_exchange_bindings", true},
      {"basic.nack", true},         {"consumer_cancel_notify", true},
      {"connection.blocked", true}, {"authentication_failure_close", true},
      {"per_consumer_qos", true},   {"direct_reply_to", true},
  };
  return amqp::FieldTable{
      {"product", "weftd"},
      {"version", "0.1.0"},
      {"platform", "C++20 on the weft runtime"},
      {"copyright", "the weft authors"},
      {"information", "An AMQP 0-9-1 broker on weft fibers"},
      {"capabilities", caps},
  };
}

bool capability(const amqp::FieldTable& props, const char* name) {
  const amqp::FieldValue* caps = props.find("capabilities");
  const amqp::FieldTable* t = caps ? caps->get<amqp::FieldTable>() : nullptr;
  const amqp::FieldValue* v = t ? t->find(name) : nullptr;
  const bool* b = v ? v->get<bool>() : nullptr;
  return b && *b;
}

}  // namespace

Connection::Connection(Broker& broker, weft::net::TcpConn conn, std::uint64_t id)
    : broker_(broker), conn_(std::move(conn)), id_(id), decoder_(broker.config().frame_max) {}

Connection::~Connection() = default;

// ---- output -------------------------------------------------------------------------

// The writer runs while there is output: kick() wakes it, or starts one when the last
// retired. A writer that wrote nothing for a whole second retires, so an idle
// connection keeps one fiber (its reader) instead of two. The handover is lock-free:
// the writer clears writer_running_ and then looks for output once more (under out_mu_,
// where senders append), so a sender either sees the flag cleared and starts a writer,
// or appended before that last look and the retiring writer stays.
void Connection::kick() {
  if (!writer_running_.load(std::memory_order_acquire) && start_writer()) return;
  try {
    kick_.try_send(1);  // full: a kick is pending already, and that one will do
  } catch (const weft::ChanClosedError&) {
    // The connection is ending; its writer has done its last flush.
  }
}

// start_writer() starts a writer unless one is running; returns whether it did.
bool Connection::start_writer() {
  // Counted before the flag is taken, so that shutdown(), which waits for writers_
  // after taking the flag itself, never misses one that is being started.
  writers_.add(1);
  if (writer_running_.exchange(true, std::memory_order_acq_rel)) {
    writers_.done();
    return false;
  }
  weft::go("weftd-writer", [this, wg = writers_] {
    weft::ScopedLabels labels(labels_);
    writer_loop();
    wg.done();
  });
  return true;
}

void Connection::send_method(std::uint16_t channel, const amqp::Method& m) {
  {
    std::lock_guard lock(out_mu_);
    if (output_closed_) return;
    out_.method(channel, m);
    out_bytes_.store(out_.buffer().size(), std::memory_order_relaxed);
  }
  kick();
}

void Connection::send_content(std::uint16_t channel, const amqp::Method& m,
                              std::string_view properties_wire, std::string_view body) {
  {
    std::lock_guard lock(out_mu_);
    if (output_closed_) return;
    out_.content_wire(channel, m, properties_wire, body);
    out_bytes_.store(out_.buffer().size(), std::memory_order_relaxed);
  }
  kick();
}

bool Connection::backlogged(const std::shared_ptr<Queue>& q) {
  if (out_bytes_.load(std::memory_order_relaxed) < broker_.config().max_output_backlog)
    return false;
  std::lock_guard lock(out_mu_);
  if (out_.buffer().size() < broker_.config().max_output_backlog) return false;
  // Each queue once: a publisher hitting the backlog on every message must not grow the
  // list the writer walks after each write.
  for (const auto& w : backlogged_)
    if (!w.owner_before(q) && !q.owner_before(w)) return true;
  backlogged_.push_back(q);
  return true;
}

void Connection::writer_loop() {
  // A new writer was started for output that is already there: write first, then wait.
  auto idle = weft::tick(std::chrono::seconds(1));
  bool wrote = false;  // since the last tick
  bool open = true;
  std::string batch;
  for (;;) {
    std::vector<std::weak_ptr<Queue>> again;
    {
      std::lock_guard lock(out_mu_);
      batch.swap(out_.buffer());  // the encoder keeps the old batch's capacity
      out_.buffer().clear();
      out_bytes_.store(0, std::memory_order_relaxed);
      again.swap(backlogged_);
    }
    if (!batch.empty()) {
      // Everything that accumulated since the last write goes out in one system call.
      if (!conn_.write(batch)) {
        interrupted_.store(true, std::memory_order_relaxed);
        conn_.close();  // the reader sees it and ends the connection
        return;
      }
      last_write_ns_.store(now_ns(), std::memory_order_relaxed);
      wrote = true;
      batch.clear();
    }
    for (auto& w : again)
      if (auto q = w.lock()) q->dispatch();
    if (!open) return;
    bool tick = false;
    weft::select(weft::on_recv(kick_, [&](std::optional<int> v) { open = v.has_value(); }),
                 weft::on_recv(idle, [&](auto) { tick = true; }));
    if (tick && !std::exchange(wrote, false)) {
      // A second without output: retire (see kick()).
      writer_running_.store(false, std::memory_order_seq_cst);
      bool pending;
      {
        std::lock_guard lock(out_mu_);
        pending = !out_.empty() || !backlogged_.empty();
      }
      if (!pending || writer_running_.exchange(true, std::memory_order_acq_rel)) return;
    }
  }
}

// heartbeat_tick() runs every half heartbeat interval on a timer (Go's time.AfterFunc:
// a short-lived fiber), so that an idle connection needs no fiber of its own for it: it
// closes a connection whose client was not heard from within two intervals, and sends a
// heartbeat frame when nothing else went out for half of one.
void Connection::heartbeat_tick() {
  const std::int64_t interval_ns = std::int64_t(heartbeat_) * 1'000'000'000;
  const std::int64_t now = now_ns();
  if (now - last_read_ns_.load(std::memory_order_relaxed) > 2 * interval_ns) {
    log_warn("connection %llu: missed heartbeats from client, closing",
             static_cast<unsigned long long>(id_));
    interrupted_.store(true, std::memory_order_relaxed);
    conn_.close();  // the reader sees it and ends the connection
    return;
  }
  if (now - last_write_ns_.load(std::memory_order_relaxed) >= interval_ns / 2) {
    {
      std::lock_guard lock(out_mu_);
      if (output_closed_) return;
      out_.heartbeat();
    }
    kick();
  }
  std::lock_guard lock(out_mu_);
  if (!output_closed_ && heartbeat_timer_)
    heartbeat_timer_->reset(std::chrono::milliseconds(heartbeat_) * 500);
}

// ---- handshake ----------------------------------------------------------------------

std::optional<amqp::Method> Connection::read_handshake_method() {
  for (;;) {
    amqp::Frame f;
    amqp::ProtocolError err;
    auto st = decoder_.next(&f, &err);
    if (st == amqp::FrameDecoder::Status::error) {
      close_now(err.code, err.text);
      return std::nullopt;
    }
    if (st == amqp::FrameDecoder::Status::frame) {
      if (f.type == amqp::FrameType::heartbeat) continue;
      if (f.type != amqp::FrameType::method || f.channel != 0) {
        close_now(ReplyCode::unexpected_frame, "unexpected frame during the handshake");
        return std::nullopt;
      }
      amqp::Reader r(f.payload);
      bool unknown = false;
      auto m = amqp::decode_method(r, &unknown);
      if (!m || !r.at_end()) {
        close_now(unknown ? ReplyCode::command_invalid : ReplyCode::syntax_error,
                  "malformed method frame during the handshake");
        return std::nullopt;
      }
      return m;
    }
    auto space = decoder_.prepare();
    auto n = conn_.read(space.data(), space.size());
    if (!n) return std::nullopt;
    decoder_.commit(*n);
  }
}

void Connection::close_now(ReplyCode code, const std::string& text) {
  amqp::FrameEncoder enc;
  enc.method(0,
             amqp::ConnectionClose{static_cast<std::uint16_t>(code),
                                   std::string(amqp::reply_code_name(code)) + " - " + text, 0, 0});
  (void)conn_.write(enc.buffer());
  log_info("connection %llu: closed during handshake: %s", static_cast<unsigned long long>(id_),
           text.c_str());
}

bool Connection::handshake() {
  const Config& cfg = broker_.config();
  (void)conn_.set_deadline(weft::net::after(cfg.handshake_timeout));
  char header[8];
  if (!conn_.read_full(header, 8)) return false;
  if (std::string_view(header, 8) != amqp::kProtocolHeader) {
    (void)conn_.write(amqp::kProtocolHeader);  // tell the client what we speak
    return false;
  }
  amqp::FrameEncoder enc(cfg.frame_max);
  enc.method(0, amqp::ConnectionStart{0, 9, server_properties(), "PLAIN AMQPLAIN", "en_US"});
  if (!conn_.write(enc.buffer())) return false;

  auto m = read_handshake_method();
  if (!m) return false;
  auto* start_ok = std::get_if<amqp::ConnectionStartOk>(&*m);
  if (!start_ok) {
    close_now(ReplyCode::command_invalid, "expected connection.start-ok");
    return false;
  }
  cancel_notify_ = capability(start_ok->client_properties, "consumer_cancel_notify");
  blocked_notify_ = capability(start_ok->client_properties, "connection.blocked");
  std::string user, pass;
  if (start_ok->mechanism == "PLAIN") {
    // [authzid] NUL authcid NUL passwd
    const std::string& r = start_ok->response;
    auto a = r.find('\0'), b = a == std::string::npos ? a : r.find('\0', a + 1);
    if (b != std::string::npos) user = r.substr(a + 1, b - a - 1), pass = r.substr(b + 1);
  } else if (start_ok->mechanism == "AMQPLAIN") {
    // A field table without its length prefix.
    std::string t(4, '\0');
    const auto n = static_cast<std::uint32_t>(start_ok->response.size());
    t[0] = char(n >> 24), t[1] = char(n >> 16), t[2] = char(n >> 8), t[3] = char(n);
    t += start_ok->response;
    amqp::Reader r(t);
    amqp::FieldTable tbl = r.table();
    auto str = [&](const char* k) {
      const amqp::FieldValue* v = tbl.find(k);
      const std::string* s = v ? v->get<std::string>() : nullptr;
      return s ? *s : std::string();
    };
    user = str("LOGIN"), pass = str("PASSWORD");
  } else {
    close_now(ReplyCode::access_refused,
              "unsupported authentication mechanism '" + start_ok->mechanism + "'");
    return false;
  }
  if (user != cfg.default_user || pass != cfg.default_pass) {
    close_now(ReplyCode::access_refused, "Login was refused using authentication mechanism " +
                                             start_ok->mechanism +
                                             ". For details see the broker logfile.");
    return false;
  }
  if (user == "guest" && !is_loopback(conn_.remote_addr())) {
    close_now(ReplyCode::access_refused, "user 'guest' - User can only log in via localhost");
    return false;
  }

  enc.clear();
  enc.method(0, amqp::ConnectionTune{cfg.channel_max, cfg.frame_max, cfg.heartbeat});
  if (!conn_.write(enc.buffer())) return false;
  m = read_handshake_method();
  if (!m) return false;
  auto* tune_ok = std::get_if<amqp::ConnectionTuneOk>(&*m);
  if (!tune_ok) {
    close_now(ReplyCode::command_invalid, "expected connection.tune-ok");
    return false;
  }
  // The client's values win when smaller; zero means "no limit" (so: ours).
  channel_max_ =
      tune_ok->channel_max == 0 ? cfg.channel_max : std::min(tune_ok->channel_max, cfg.channel_max);
  frame_max_ =
      tune_ok->frame_max == 0 ? cfg.frame_max : std::min(tune_ok->frame_max, cfg.frame_max);
  heartbeat_ = tune_ok->heartbeat;
  if (frame_max_ < static_cast<std::uint32_t>(amqp::kFrameMinSize)) {
    close_now(ReplyCode::not_allowed,
              "frame_max " + std::to_string(frame_max_) + " is below the minimum of 4096");
    return false;
  }
  decoder_.set_frame_max(frame_max_);
  out_.set_frame_max(frame_max_);

  m = read_handshake_method();
  if (!m) return false;
  auto* open = std::get_if<amqp::ConnectionOpen>(&*m);
  if (!open) {
    close_now(ReplyCode::command_invalid, "expected connection.open");
    return false;
  }
  vhost_ = broker_.vhost(open->virtual_host);
  if (!vhost_) {
    close_now(ReplyCode::not_allowed, "vhost " + open->virtual_host + " not found");
    return false;
  }
  enc.clear();
  enc.method(0, amqp::ConnectionOpenOk{});
  if (!conn_.write(enc.buffer())) return false;
  (void)conn_.set_deadline({});
  return true;
}

// ---- the reader ---------------------------------------------------------------------

void Connection::serve() {
  // Profiles and fiber dumps (/debug/pprof) can be sliced per connection: the reader,
  // and the writer it starts, carry these labels (`go tool pprof -tagfocus
  // connection=12`).
  labels_ = weft::PreparedLabels(
      {{"connection", std::to_string(id_)}, {"peer", conn_.remote_addr().to_string()}});
  weft::ScopedLabels labelled(labels_);
  last_read_ns_ = last_write_ns_ = now_ns();
  if (!handshake()) {
    conn_.close();
    return;
  }
  log_info("connection %llu: open from %s (user %s)", static_cast<unsigned long long>(id_),
           conn_.remote_addr().to_string().c_str(), broker_.config().default_user.c_str());
  if (heartbeat_ > 0) {
    std::lock_guard lock(out_mu_);
    heartbeat_timer_ = weft::Timer::after_func(std::chrono::milliseconds(heartbeat_) * 500,
                                               [w = weak_from_this()] {
                                                 if (auto c = w.lock()) c->heartbeat_tick();
                                               });
  }
  read_loop();
  shutdown();
  writers_.wait();
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
    if (publisher_ && broker_.memory_alarm()) wait_while_memory_alarm();
    if (flow_queue_) wait_while_flow();
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
        if (!n) return;  // eof, reset, closed by us, or the close-ok deadline
        auto space = decoder_.prepare();
        std::memcpy(space.data(), first, *n);
        decoder_.commit(*n);
        last_read_ns_.store(now_ns(), std::memory_order_relaxed);
        continue;
      }
    }
    auto space = decoder_.prepare();
    auto n = conn_.read(space.data(), space.size());
    if (!n) return;  // eof, reset, closed by us, or the close-ok deadline
    decoder_.commit(*n);
    last_read_ns_.store(now_ns(), std::memory_order_relaxed);
  }
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
    send_method(0, amqp::ConnectionCloseOk{});
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
        channels_.emplace(f.channel, std::make_unique<Channel>(*this, f.channel));
        send_method(f.channel, amqp::ChannelOpenOk{});
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
    send_method(f.channel, amqp::ChannelCloseOk{});
    closing_channels_.erase(f.channel);
    channels_.erase(it);
    return;
  }
  if (std::holds_alternative<amqp::ChannelCloseOk>(cmd.method)) {
    if (ch_closing) {
      closing_channels_.erase(f.channel);
      channels_.erase(it);
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
  send_method(ch.id(), amqp::ChannelClose{static_cast<std::uint16_t>(code),
                                          std::string(amqp::reply_code_name(code)) + " - " + text,
                                          class_id, method_id});
  ch.close();
  closing_channels_.insert(ch.id());
}

void Connection::close_with(ReplyCode code, const std::string& text, std::uint16_t class_id,
                            std::uint16_t method_id) {
  if (closing_) return;
  closing_ = true;
  log_info("connection %llu: closing: %d %s", static_cast<unsigned long long>(id_),
           static_cast<int>(code), text.c_str());
  send_method(0, amqp::ConnectionClose{static_cast<std::uint16_t>(code),
                                       std::string(amqp::reply_code_name(code)) + " - " + text,
                                       class_id, method_id});
  // Wait a little for close-ok; a client that never sends it is cut off.
  (void)conn_.set_read_deadline(weft::net::after(std::chrono::seconds(3)));
}

void Connection::force_close(ReplyCode code, const std::string& text) {
  interrupted_.store(true, std::memory_order_relaxed);
  send_method(0,
              amqp::ConnectionClose{static_cast<std::uint16_t>(code),
                                    std::string(amqp::reply_code_name(code)) + " - " + text, 0, 0});
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
  if (blocked_notify_) send_method(0, amqp::ConnectionBlocked{"low on memory"});
  while (broker_.memory_alarm() && !interrupted_.load(std::memory_order_relaxed)) {
    weft::sleep_for(std::chrono::milliseconds(10));
    last_read_ns_.store(now_ns(), std::memory_order_relaxed);  // not the client's silence
  }
  if (blocked_notify_) send_method(0, amqp::ConnectionUnblocked{});
  log_info("connection %llu: unblocked", static_cast<unsigned long long>(id_));
}

void Connection::wait_while_flow() {
  // Not reading the socket is the whole mechanism (queue.h): TCP holds the publisher.
  // A wait is bounded (kFlowCredit deliveries, or a second without one), so the heartbeat
  // monitor and a connection that is ending are heard from soon enough.
  std::shared_ptr<Queue> q = std::move(flow_queue_);
  q->wait_flow();
  last_read_ns_.store(now_ns(), std::memory_order_relaxed);
}

void Connection::release() {
  for (auto& [id, ch] : channels_) ch->close();
  channels_.clear();
  for (auto& q : vhost_->queues_owned_by(id_)) vhost_->delete_queue(q);
}

void Connection::shutdown() {
  release();
  {
    std::lock_guard lock(out_mu_);
    output_closed_ = true;
    if (heartbeat_timer_) heartbeat_timer_->stop();
  }
  kick_.close();   // a writer flushes what is left (a close-ok, say) and returns
  start_writer();  // (a new one, if none is running)
}

}  // namespace weftd
