// client.cpp: the AMQP client's connection -- URI parsing, the handshake, the reader
// and writer fibers, heartbeats and shutdown (weft/amqp/client.h; channels are in
// client_channel.cpp; docs/design.md, "The AMQP client").
//
// Life of a connection:
//
//   open():  dial, "AMQP\0\0\9\1", start/start-ok, tune/tune-ok + open, open-ok -- all on
//            the caller's fiber, with the socket's deadline as the handshake timeout
//   running: reader fiber  read → FrameDecoder → ContentAssembler[channel] → dispatch
//            writer fiber  out.recv() + whatever else is queued → FrameEncoder → write
//   closing: close() sends connection.close and arms a read deadline for close-ok;
//            the reader drops channel frames until close-ok (or close, or the deadline)
//   closed:  the reader's shutdown(): fail every channel, close `out`, wait for the
//            writer to write what was queued (a server's close needs its close-ok), close
//            the socket, close `done`.
//
// Only the reader ever decides that the connection is over; the writer, on a write
// error, records it and closes the socket, which wakes the reader.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "client_internal.h"
#include "weft/time.h"

namespace weft::amqp {

namespace {

std::string error_message(std::uint16_t code, const std::string& text) {
  if (code == 0) return "AMQP: " + text;
  return "AMQP " + std::to_string(code) + " " + reply_code_name(static_cast<ReplyCode>(code)) +
         ": " + text;
}

// Negotiation (tune): the smaller of the two, where 0 (no limit) loses to any value.
std::uint32_t pick(std::uint32_t client, std::uint32_t server) {
  if (client == 0 || server == 0) return std::max(client, server);
  return std::min(client, server);
}

constexpr std::size_t kMaxBatch = 256 * 1024;  // bytes the writer gathers per write
constexpr std::size_t kReadChunk = 64 * 1024;

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) throw std::invalid_argument("amqp uri: truncated percent escape");
      int v = 0;
      auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ec != std::errc() || r.ptr != s.data() + i + 3)
        throw std::invalid_argument("amqp uri: bad percent escape");
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

template <class T>
T parse_number(std::string_view key, std::string_view v) {
  T n{};
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size())
    throw std::invalid_argument("amqp uri: bad value for " + std::string(key) + ": " +
                                std::string(v));
  return n;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

FieldTable client_properties(const ConnectionOptions& o) {
  FieldTable caps{
      {"publisher_confirms", true}, {"exchange_exchange_bindings", true},
      {"basic.nack", true},         {"consumer_cancel_notify", true},
      {"connection.blocked", true}, {"authentication_failure_close", true},
      {"per_consumer_qos", true},
  };
  FieldTable props{
      {"product", "weft"},
      {"version", "0.1.0"},
      {"platform", "C++20 / weft fibers"},
      {"information", "weft::amqp::Connection (weft/amqp/client.h)"},
      {"capabilities", std::move(caps)},
  };
  if (!o.connection_name.empty()) props.set("connection_name", o.connection_name);
  return props;
}

std::string auth_response(const ConnectionOptions& o) {
  if (o.mechanism == Mechanism::plain) {
    std::string r;
    r.push_back('\0');
    r += o.user;
    r.push_back('\0');
    r += o.password;
    return r;
  }
  // AMQPLAIN: a field table's entries without the table's length prefix.
  std::string r;
  Writer w(r);
  w.table(FieldTable{{"LOGIN", o.user}, {"PASSWORD", o.password}});
  return r.substr(4);
}

AmqpError transport_error(const std::string& what, std::error_code ec) {
  return AmqpError(0, what + ": " + ec.message(), true);
}

// Handshake: the synchronous exchange before the reader and writer exist.
class Handshake {
 public:
  Handshake(net::TcpConn& sock, FrameDecoder& dec) : sock_(sock), dec_(dec) {}

  void write(const Method& m) {
    enc_.method(0, m);
    flush();
  }
  void flush() {
    auto r = sock_.write(enc_.buffer());
    enc_.clear();
    if (!r) throw transport_error("handshake write", r.error());
  }
  FrameEncoder& encoder() { return enc_; }

  // next() reads until a whole channel-0 command; heartbeats are skipped.
  Command next(const char* waiting_for) {
    for (;;) {
      Frame f;
      ProtocolError pe;
      auto st = dec_.next(&f, &pe);
      if (st == FrameDecoder::Status::error)
        throw AmqpError(static_cast<std::uint16_t>(pe.code), "handshake: " + pe.text, true);
      if (st == FrameDecoder::Status::frame) {
        if (f.type == FrameType::heartbeat) continue;
        if (f.channel != 0)
          throw AmqpError(kUnexpectedFrame,
                          "handshake: frame on channel " + std::to_string(f.channel), true);
        auto s = as_.feed(f, &pe);
        if (s == ContentAssembler::Status::complete) return std::move(as_.command());
        if (s == ContentAssembler::Status::error)
          throw AmqpError(static_cast<std::uint16_t>(pe.code), "handshake: " + pe.text, true);
        continue;
      }
      auto space = dec_.prepare(kReadChunk);
      auto n = sock_.read(space.data(), space.size());
      if (!n) {
        if (n.error() == net::Error::eof)
          throw AmqpError(0,
                          std::string("the server closed the connection while the client "
                                      "waited for ") +
                              waiting_for + (first_ ? "" : " (refused credentials or vhost?)"),
                          true);
        throw transport_error(std::string("handshake, waiting for ") + waiting_for, n.error());
      }
      if (first_ && dec_.buffered() == 0 && *n >= 4 && std::memcmp(space.data(), "AMQP", 4) == 0)
        throw AmqpError(0,
                        "the server refused AMQP 0-9-1 (it answered with its own protocol "
                        "header)",
                        true);
      dec_.commit(*n);
    }
  }

  // expect() takes the next command as an M; a connection.close is the server's
  // refusal and becomes the AmqpError.
  template <class M>
  M expect() {
    Command c = next(M::kName);
    first_ = false;
    if (auto* m = std::get_if<M>(&c.method)) return std::move(*m);
    if (auto* cl = std::get_if<ConnectionClose>(&c.method)) {
      try {
        write(ConnectionCloseOk{});
      } catch (const AmqpError&) {
      }
      throw AmqpError(cl->reply_code, cl->reply_text, true, cl->class_id, cl->method_id);
    }
    throw AmqpError(
        kCommandInvalid,
        std::string("handshake: expected ") + M::kName + ", got " + method_info(c.method).name,
        true);
  }

 private:
  net::TcpConn& sock_;
  FrameDecoder& dec_;
  ContentAssembler as_;
  FrameEncoder enc_;
  bool first_ = true;
};

}  // namespace

// ---- errors ------------------------------------------------------------------------

AmqpError::AmqpError(std::uint16_t code, std::string text, bool connection_error,
                     std::uint16_t class_id, std::uint16_t method_id)
    : std::runtime_error(error_message(code, text)),
      code_(code),
      text_(std::move(text)),
      connection_(connection_error),
      class_id_(class_id),
      method_id_(method_id) {}

namespace detail {

AmqpError not_open_error(bool connection) {
  return AmqpError(kChannelError, "channel/connection is not open", connection);
}

void validate(const Method& m, const BasicProperties* props) {
  std::string scratch;
  Writer w(scratch);
  encode_method(m, w);
  if (props) props->encode(w);
}

}  // namespace detail

// ---- URIs --------------------------------------------------------------------------

ConnectionOptions ConnectionOptions::parse_uri(std::string_view uri) {
  ConnectionOptions o;
  constexpr std::string_view kScheme = "amqp://";
  if (uri.substr(0, kScheme.size()) != kScheme)
    throw std::invalid_argument("amqp uri: must start with amqp:// (amqps is not supported)");
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (auto p = rest.find('/'); p != std::string_view::npos) {
    path = rest.substr(p + 1);
    rest = rest.substr(0, p);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    o.user = percent_decode(userinfo.substr(0, colon));
    o.password = colon == std::string_view::npos ? "" : percent_decode(userinfo.substr(colon + 1));
  }
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("amqp uri: unclosed [");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw std::invalid_argument("amqp uri: junk after ]");
      port = rest.substr(close + 2);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (!host.empty()) o.host = percent_decode(host);
  if (!port.empty()) o.port = parse_number<std::uint16_t>("port", port);
  o.vhost = path.empty() ? "/" : percent_decode(path);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    std::string_view k = kv.substr(0, eq);
    std::string v = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
    if (k == "heartbeat") {
      o.heartbeat = std::chrono::seconds(parse_number<std::uint16_t>(k, v));
    } else if (k == "frame_max") {
      o.frame_max = parse_number<std::uint32_t>(k, v);
    } else if (k == "channel_max") {
      o.channel_max = parse_number<std::uint16_t>(k, v);
    } else if (k == "connection_timeout") {
      o.connect_timeout = std::chrono::milliseconds(parse_number<std::uint32_t>(k, v));
    } else if (k == "auth_mechanism") {
      auto m = lower(v);
      if (m == "plain")
        o.mechanism = Mechanism::plain;
      else if (m == "amqplain")
        o.mechanism = Mechanism::amqplain;
      else
        throw std::invalid_argument("amqp uri: unsupported auth_mechanism " + v);
    } else if (k == "connection_name") {
      o.connection_name = v;
    }  // other keys (TLS options, locale) are ignored, as other clients do
  }
  return o;
}

// ---- the connection's fibers -------------------------------------------------------

namespace detail {

AmqpError ConnState::closed_error() {
  std::lock_guard l(mu);
  return error ? *error : not_open_error(true);
}

bool ConnState::send_nothrow(Outgoing o) {
  try {
    out.send(std::move(o));
    return true;
  } catch (const ChanClosedError&) {
    return false;
  }
}

void ConnState::send(Outgoing o) {
  if (!accepting.load() || !send_nothrow(std::move(o))) throw closed_error();
}

void ConnState::remove_channel(std::uint16_t id, const ChannelState* ch) {
  std::lock_guard l(mu);
  auto it = channels.find(id);
  if (it != channels.end() && it->second.get() == ch) channels.erase(it);
}

void ConnState::start_fibers(FrameDecoder dec) {
  auto self = shared_from_this();
  fibers.add(2);
  weft::go("amqp writer", [self, wg = fibers] {
    self->writer_loop();
    self->writer_done.close();
    wg.done();
  });
  weft::go("amqp reader", [self, wg = fibers, dec = std::move(dec)]() mutable {
    self->reader_loop(dec);
    wg.done();
  });
}

// arm_read_deadline(): the close-ok deadline while closing, else two heartbeat
// intervals from now. close() sets its deadline from another fiber; the re-check makes
// sure a heartbeat deadline set concurrently cannot hide it.
void ConnState::arm_read_deadline() {
  for (;;) {
    const std::int64_t cd = close_deadline.load();
    net::Deadline d{};
    if (cd != 0)
      d = net::Deadline(std::chrono::nanoseconds(cd));
    else if (heartbeat != 0)
      d = net::after(std::chrono::seconds(2 * heartbeat));
    else
      return;  // no heartbeats and not closing: reads wait as long as it takes
    (void)sock.set_read_deadline(d);
    if (close_deadline.load() == cd) return;
  }
}

void ConnState::writer_loop() {
  FrameEncoder enc(frame_max);
  weft::Chan<weft::Clock::time_point> ticks;  // nil: no heartbeats
  if (heartbeat != 0) ticks = weft::tick(std::chrono::milliseconds(heartbeat * 500));
  bool closed = false, failed = false, wrote = false;
  auto encode = [&](Outgoing& o) {
    const std::size_t before = enc.buffer().size();
    try {
      if (o.content)
        enc.content(o.channel, o.method, o.content->properties, o.content->body);
      else
        enc.method(o.channel, o.method);
    } catch (const CodecError&) {
      enc.buffer().resize(before);  // validate() should have refused it in the caller
    }
  };
  while (!closed) {
    weft::select(weft::on_recv(out,
                               [&](std::optional<Outgoing> o) {
                                 if (o)
                                   encode(*o);
                                 else
                                   closed = true;
                               }),
                 weft::on_recv(ticks, [&](std::optional<weft::Clock::time_point>) {
                   // Every heartbeat/2: a heartbeat frame if nothing went out since the
                   // previous tick, so the server never waits more than one interval.
                   if (!wrote) enc.heartbeat();
                   wrote = false;
                 }));
    while (!closed && enc.buffer().size() < kMaxBatch) {
      bool c = false;
      auto o = out.try_recv(&c);
      if (c) closed = true;
      if (!o) break;
      encode(*o);
    }
    if (enc.empty()) continue;
    if (!failed) {
      auto r = sock.write(enc.buffer());
      if (!r) {
        // Keep draining `out` (senders must not park forever) but write no more; the
        // closed socket wakes the reader, which shuts the connection down.
        failed = true;
        {
          std::lock_guard l(mu);
          write_error = transport_error("write", r.error());
        }
        (void)sock.close();
      }
    }
    enc.clear();
    wrote = true;
  }
}

void ConnState::reader_loop(FrameDecoder& dec) {
  std::map<std::uint16_t, ContentAssembler> assemblers;
  std::optional<AmqpError> err;
  bool stop = false;
  auto protocol_failure = [&](const ProtocolError& pe) {
    // The server sent what the codec refuses: tell it why, as the spec asks, and go.
    send_nothrow(Outgoing{
        0, ConnectionClose{static_cast<std::uint16_t>(pe.code), pe.text, pe.class_id, pe.method_id},
        nullptr});
    err = AmqpError(static_cast<std::uint16_t>(pe.code),
                    "server sent a malformed frame: " + pe.text, true, pe.class_id, pe.method_id);
    stop = true;
  };
  // connection_command(): channel 0. True when the connection is over.
  auto connection_command = [&](Command& cmd) {
    if (auto* c = std::get_if<ConnectionClose>(&cmd.method)) {
      send_nothrow(Outgoing{0, ConnectionCloseOk{}, nullptr});
      err = AmqpError(c->reply_code, c->reply_text, true, c->class_id, c->method_id);
      return true;
    }
    if (std::holds_alternative<ConnectionCloseOk>(cmd.method)) return true;
    if (std::holds_alternative<ConnectionBlocked>(cmd.method) ||
        std::holds_alternative<ConnectionUnblocked>(cmd.method)) {
      std::lock_guard l(mu);
      blocked = std::holds_alternative<ConnectionBlocked>(cmd.method);
    }
    return false;  // update-secret-ok and the like need nothing
  };
  try {
    while (!stop) {
      // Whole frames first: the handshake may have left some in the decoder.
      for (;;) {
        Frame f;
        ProtocolError pe;
        auto st = dec.next(&f, &pe);
        if (st == FrameDecoder::Status::need_more) break;
        if (st == FrameDecoder::Status::error) {
          protocol_failure(pe);
          break;
        }
        if (f.type == FrameType::heartbeat) continue;  // it counted as traffic: enough
        // After our connection.close only close/close-ok matter (the spec's rule).
        if (f.channel != 0 && !accepting.load()) continue;
        auto& as = assemblers[f.channel];
        auto s = as.feed(f, &pe);
        if (s == ContentAssembler::Status::need_more) continue;
        if (s == ContentAssembler::Status::error) {
          protocol_failure(pe);
          break;
        }
        if (f.channel == 0) {
          if (connection_command(as.command())) {
            stop = true;
            break;
          }
          continue;
        }
        std::shared_ptr<ChannelState> ch;
        {
          std::lock_guard l(mu);
          auto it = channels.find(f.channel);
          if (it != channels.end()) ch = it->second;
        }
        if (ch) ch->dispatch(as.command());  // else: a channel already closed: dropped
      }
      if (stop) break;
      arm_read_deadline();
      auto space = dec.prepare(kReadChunk);
      auto n = sock.read(space.data(), space.size());
      if (!n) {
        const auto ec = n.error();
        if (ec == net::Error::timeout && close_deadline.load() != 0)
          err = AmqpError(0, "timed out waiting for connection.close-ok", true);
        else if (ec == net::Error::timeout)
          err = AmqpError(0,
                          "missed heartbeats: nothing from the server for " +
                              std::to_string(2 * heartbeat) + "s",
                          true);
        else if (ec == net::Error::eof)
          err = AmqpError(0, "the server closed the connection without connection.close", true);
        else {
          std::lock_guard l(mu);
          err = write_error ? *write_error : transport_error("read", ec);
        }
        break;
      }
      dec.commit(*n);
    }
  } catch (const std::exception& e) {  // bad_alloc: end the connection, not the process
    err = AmqpError(0, std::string("client failure: ") + e.what(), true);
  }
  shutdown(std::move(err));
}

void ConnState::shutdown(std::optional<AmqpError> err) {
  std::map<std::uint16_t, std::shared_ptr<ChannelState>> chans;
  {
    std::lock_guard l(mu);
    if (state == State::closing) err.reset();  // the client's close(): no error
    state = State::closed;
    error = err;
    chans.swap(channels);
  }
  accepting.store(false);
  for (auto& [id, ch] : chans) ch->fail(err);
  out.close();  // the writer writes what is queued (a close-ok, say), then returns
  (void)sock.set_write_deadline(net::after(opts.close_timeout));
  writer_done.recv();
  (void)sock.close();
  done.close();
}

void ConnState::close() {
  bool send_close = false;
  {
    std::lock_guard l(mu);
    if (state == State::open) {
      state = State::closing;
      send_close = true;
    }
  }
  if (send_close) {
    accepting.store(false);
    const auto deadline = std::chrono::steady_clock::now() + opts.close_timeout;
    close_deadline.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count());
    (void)sock.set_read_deadline(deadline);
    send_nothrow(
        Outgoing{0, ConnectionClose{kReplySuccess, "closed by the client", 0, 0}, nullptr});
  }
  done.recv();
  fibers.wait();
}

}  // namespace detail

// ---- Connection --------------------------------------------------------------------

Connection Connection::open(std::string_view uri) {
  return open(ConnectionOptions::parse_uri(uri));
}

Connection Connection::open(const ConnectionOptions& opts) {
  auto s = std::make_shared<detail::ConnState>(opts);
  const std::string host_port = opts.host.find(':') != std::string::npos
                                    ? "[" + opts.host + "]:" + std::to_string(opts.port)
                                    : opts.host + ":" + std::to_string(opts.port);
  auto c = net::dial_tcp(host_port, opts.connect_timeout);
  if (!c) throw transport_error("dial " + host_port, c.error());
  s->sock = std::move(*c);
  (void)s->sock.set_deadline(net::after(opts.connect_timeout));

  FrameDecoder dec(kDefaultFrameMax);
  Handshake hs(s->sock, dec);
  if (auto r = s->sock.write(kProtocolHeader); !r) throw transport_error("write", r.error());

  auto start = hs.expect<ConnectionStart>();
  const char* mech = opts.mechanism == Mechanism::plain ? "PLAIN" : "AMQPLAIN";
  bool offered = false;
  for (std::size_t i = 0; i < start.mechanisms.size();) {  // space-separated
    auto j = start.mechanisms.find(' ', i);
    if (j == std::string::npos) j = start.mechanisms.size();
    if (start.mechanisms.compare(i, j - i, mech) == 0) offered = true;
    i = j + 1;
  }
  if (!offered)
    throw AmqpError(
        kAccessRefused,
        std::string("the server does not offer ") + mech + " (it offers: " + start.mechanisms + ")",
        true);
  s->server_properties = std::move(start.server_properties);
  hs.write(ConnectionStartOk{client_properties(opts), mech, auth_response(opts), "en_US"});

  auto tune = hs.expect<ConnectionTune>();
  s->channel_max = static_cast<std::uint16_t>(pick(opts.channel_max, tune.channel_max));
  s->frame_max = pick(opts.frame_max, tune.frame_max);
  if (s->frame_max != 0) s->frame_max = std::max<std::uint32_t>(s->frame_max, kFrameMinSize);
  s->heartbeat = static_cast<std::uint16_t>(
      pick(static_cast<std::uint32_t>(opts.heartbeat.count()), tune.heartbeat));
  dec.set_frame_max(s->frame_max);
  hs.encoder().set_frame_max(s->frame_max);
  hs.encoder().method(0, ConnectionTuneOk{s->channel_max, s->frame_max, s->heartbeat});
  hs.encoder().method(0, ConnectionOpen{opts.vhost, "", false});
  hs.flush();  // tune-ok and open in one write
  hs.expect<ConnectionOpenOk>();

  (void)s->sock.set_deadline({});
  s->start_fibers(std::move(dec));
  Connection conn;
  conn.s_ = std::move(s);
  return conn;
}

Connection::Connection(Connection&& o) noexcept = default;

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    s_ = std::move(o.s_);
  }
  return *this;
}

Connection::~Connection() { close(); }

void Connection::close() {
  if (s_) s_->close();
}

bool Connection::is_open() const {
  if (!s_) return false;
  std::lock_guard l(s_->mu);
  return s_->state == detail::ConnState::State::open;
}

std::optional<AmqpError> Connection::error() const {
  if (!s_) return std::nullopt;
  std::lock_guard l(s_->mu);
  return s_->error;
}

weft::Chan<bool> Connection::done() const { return s_ ? s_->done : weft::Chan<bool>(); }
std::uint16_t Connection::channel_max() const { return s_ ? s_->channel_max : 0; }
std::uint32_t Connection::frame_max() const { return s_ ? s_->frame_max : 0; }
std::chrono::seconds Connection::heartbeat() const {
  return std::chrono::seconds(s_ ? s_->heartbeat : 0);
}
const FieldTable& Connection::server_properties() const {
  static const FieldTable kEmpty;
  return s_ ? s_->server_properties : kEmpty;
}
bool Connection::blocked() const {
  if (!s_) return false;
  std::lock_guard l(s_->mu);
  return s_->blocked;
}

Channel Connection::channel() {
  if (!s_) throw detail::not_open_error(true);
  std::shared_ptr<detail::ChannelState> ch;
  {
    std::lock_guard l(s_->mu);
    if (s_->state != detail::ConnState::State::open)
      throw s_->error ? *s_->error : detail::not_open_error(true);
    const std::uint32_t max = s_->channel_max ? s_->channel_max : 65535;
    for (std::uint32_t tries = 0; tries < max && !ch; tries++) {
      const std::uint16_t id = s_->next_channel;
      s_->next_channel = id >= max ? 1 : static_cast<std::uint16_t>(id + 1);
      if (s_->channels.count(id)) continue;
      ch = std::make_shared<detail::ChannelState>(s_, id);
      s_->channels[id] = ch;
    }
    if (!ch)
      throw AmqpError(
          kResourceError,
          "no free channel: channel_max (" + std::to_string(max) + ") channels are open", false);
  }
  ch->call_ok<ChannelOpenOk>(ChannelOpen{});
  return Channel(std::move(ch));
}

}  // namespace weft::amqp
