// amqp091/handshake.cpp: a connection's opening -- protocol header, start/start-ok
// (authentication, auth/), tune/tune-ok, open/open-ok (amqp091/connection.h).
#include <mutex>

#include "amqp091/amqp_error.h"
#include "amqp091/connection.h"
#include "auth/sasl.h"
#include "base/log.h"

namespace weftd {

namespace amqp = weft::amqp;
using amqp::ReplyCode;

namespace {

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
    if (!read_chunk()) return std::nullopt;
  }
}

void Connection::close_now(ReplyCode code, const std::string& text) {
  amqp::FrameEncoder enc;
  enc.method(0,
             amqp::ConnectionClose{static_cast<std::uint16_t>(code), reply_text(code, text), 0, 0});
  (void)conn_.write(enc.buffer());
  log_info("connection %llu: closed during handshake: %s", static_cast<unsigned long long>(id_),
           text.c_str());
}

bool Connection::handshake() {
  const ConnectionLimits& lim = server_.limits;
  (void)conn_.set_deadline(weft::net::after(lim.handshake_timeout));
  char header[8];
  if (!conn_.read_full(header, 8)) return false;
  if (std::string_view(header, 8) != amqp::kProtocolHeader) {
    (void)conn_.write(amqp::kProtocolHeader);  // tell the client what we speak
    return false;
  }
  amqp::FrameEncoder enc(lim.frame_max);
  enc.method(0, amqp::ConnectionStart{0, 9, server_properties(), auth::kMechanisms, "en_US"});
  if (!conn_.write(enc.buffer())) return false;

  auto m = read_handshake_method();
  if (!m) return false;
  auto* start_ok = std::get_if<amqp::ConnectionStartOk>(&*m);
  if (!start_ok) {
    close_now(ReplyCode::command_invalid, "expected connection.start-ok");
    return false;
  }
  channel_ctx_.consumer_cancel_notify =
      capability(start_ok->client_properties, "consumer_cancel_notify");
  blocked_notify_ = capability(start_ok->client_properties, "connection.blocked");
  std::string user;
  if (auto refused = server_.auth->login(start_ok->mechanism, start_ok->response,
                                         conn_.remote_addr(), &user)) {
    close_now(ReplyCode::access_refused, *refused);
    return false;
  }

  enc.clear();
  enc.method(0, amqp::ConnectionTune{lim.channel_max, lim.frame_max, lim.heartbeat});
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
      tune_ok->channel_max == 0 ? lim.channel_max : std::min(tune_ok->channel_max, lim.channel_max);
  frame_max_ =
      tune_ok->frame_max == 0 ? lim.frame_max : std::min(tune_ok->frame_max, lim.frame_max);
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
  VHost* vhost = server_.find_vhost(open->virtual_host);
  if (!vhost) {
    close_now(ReplyCode::not_allowed, "vhost " + open->virtual_host + " not found");
    return false;
  }
  enc.clear();
  enc.method(0, amqp::ConnectionOpenOk{});
  if (!conn_.write(enc.buffer())) return false;
  (void)conn_.set_deadline({});

  channel_ctx_.connection_id = id_;
  channel_ctx_.vhost = vhost;
  channel_ctx_.user = user;
  channel_ctx_.max_message_size = lim.max_message_size;
  channel_ctx_.out = &out_;
  channel_ctx_.publisher = &publisher_;
  channel_ctx_.reply_to = server_.reply_to;
  channel_ctx_.memory = server_.memory;
  channel_ctx_.metrics = server_.metrics;
  stats_->user = user;
  stats_->vhost = vhost->name();
  stats_->open.store(true, std::memory_order_release);
  return true;
}

}  // namespace weftd
