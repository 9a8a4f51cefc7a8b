// fake_server.cpp: ServerSide's frame-level helpers (fake_server.h).
#include "fake_server.h"

#include <chrono>
#include <string_view>

namespace amqp = weft::amqp;

namespace weft_test {

void ServerSide::send(std::uint16_t channel, const amqp::Method& m) {
  enc.method(channel, m);
  flush();
}

void ServerSide::flush() {
  (void)c.write(enc.buffer());
  enc.clear();
}

std::optional<amqp::Method> ServerSide::next(std::uint16_t* channel) {
  for (;;) {
    amqp::Frame f;
    amqp::ProtocolError pe;
    auto st = dec.next(&f, &pe);
    if (st == amqp::FrameDecoder::Status::error) return std::nullopt;
    if (st == amqp::FrameDecoder::Status::frame) {
      if (f.type == amqp::FrameType::heartbeat) {
        heartbeats_seen++;
        continue;
      }
      if (f.type != amqp::FrameType::method) continue;
      amqp::Reader r(f.payload);
      bool unknown = false;
      auto m = amqp::decode_method(r, &unknown);
      if (channel) *channel = f.channel;
      return m;
    }
    auto space = dec.prepare(4096);
    auto n = c.read(space.data(), space.size());
    if (!n) return std::nullopt;
    dec.commit(*n);
  }
}

bool ServerSide::handshake(std::uint16_t heartbeat) {
  char header[8];
  if (!c.read_full(header, sizeof header)) return false;
  EXPECT_EQ(std::string_view(header, 8), amqp::kProtocolHeader);
  send(0, amqp::ConnectionStart{0, 9, amqp::FieldTable{{"product", "fake"}}, "PLAIN AMQPLAIN",
                                "en_US"});
  if (!expect<amqp::ConnectionStartOk>()) return false;
  send(0, amqp::ConnectionTune{2047, 131072, heartbeat});
  if (!expect<amqp::ConnectionTuneOk>() || !expect<amqp::ConnectionOpen>()) return false;
  send(0, amqp::ConnectionOpenOk{});
  return true;
}

amqp::ConnectionOptions fake_options(const weft::net::TcpListener& ln, std::uint16_t heartbeat) {
  amqp::ConnectionOptions o;
  o.host = "127.0.0.1";
  o.port = ln.addr().port();
  o.heartbeat = std::chrono::seconds(heartbeat);
  return o;
}

}  // namespace weft_test
