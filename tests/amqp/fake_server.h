// fake_server.h: the server's side of an AMQP connection played by a test, frame by
// frame, over loopback -- for what a real broker will not do (vanish, go silent, send a
// malformed frame). client_fake_server_test.cpp uses it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "weft/amqp/client.h"
#include "weft/net.h"

namespace weft_test {

// ServerSide: one accepted connection, with frame-level helpers.
struct ServerSide {
  explicit ServerSide(weft::net::Conn conn) : c(std::move(conn)) {}
  weft::net::Conn c;
  weft::amqp::FrameDecoder dec;
  weft::amqp::FrameEncoder enc;
  int heartbeats_seen = 0;

  // send() encodes m on channel and writes it.
  void send(std::uint16_t channel, const weft::amqp::Method& m);
  // flush() writes what enc holds.
  void flush();
  // next() returns the next method (channel in *channel), nullopt at EOF or error;
  // heartbeats are counted in heartbeats_seen, other frames skipped.
  std::optional<weft::amqp::Method> next(std::uint16_t* channel = nullptr);
  // expect<M>() reads the next method, failing the test unless it is an M.
  template <class M>
  bool expect() {
    auto m = next();
    EXPECT_TRUE(m && std::holds_alternative<M>(*m)) << "expected " << M::kName;
    return m && std::holds_alternative<M>(*m);
  }
  // handshake() plays the server's part up to open-ok, offering heartbeat seconds.
  bool handshake(std::uint16_t heartbeat);
};

// fake_options() are a client's options for the fake server listening on ln.
weft::amqp::ConnectionOptions fake_options(const weft::net::TcpListener& ln,
                                           std::uint16_t heartbeat = 0);

}  // namespace weft_test
