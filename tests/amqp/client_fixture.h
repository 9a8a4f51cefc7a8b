// client_fixture.h: what the AMQP client tests share (client_test.cpp against a broker,
// client_fake_server_test.cpp against fake_server.h): AmqpFixture, a WeftTest whose body
// may throw the client's exceptions, and helpers that fail a test instead of hanging it.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>

#include "../runtime/weft_test.h"
#include "weft/amqp/client.h"
#include "weft/chan.h"
#include "weft/select.h"
#include "weft/time.h"

namespace weft_test {

class AmqpFixture : public WeftTest {
 protected:
  // amqp_run() runs body inside weft::run; an exception out of it fails the test.
  void amqp_run(std::function<void()> body) {
    run([&] {
      try {
        body();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "uncaught exception: " << e.what();
      }
    });
  }
};

// receive() receives from ch, failing the test (not hanging) after a 30 s guard. The
// guard is a Timer stopped on the way out, not weft::after(): an armed timer still
// pending when run() returns is reported by LeakSanitizer.
template <class T>
std::optional<T> receive(const weft::Chan<T>& ch) {
  using namespace std::chrono_literals;
  weft::Chan<bool> expired(1);
  auto guard = weft::Timer::after_func(30s, [expired] { expired.try_send(true); });
  std::optional<T> out;
  bool timed_out = false;
  weft::select(weft::on_recv(ch, [&](std::optional<T> v) { out = std::move(v); }),
               weft::on_recv(expired, [&](std::optional<bool>) { timed_out = true; }));
  guard.stop();
  if (timed_out) ADD_FAILURE() << "nothing received within the 30 s guard";
  return out;
}

// expect_error() runs fn and returns the AmqpError it throws (failing if none).
template <class F>
std::optional<weft::amqp::AmqpError> expect_error(F&& fn) {
  try {
    fn();
  } catch (const weft::amqp::AmqpError& e) {
    return e;
  }
  ADD_FAILURE() << "no AmqpError thrown";
  return std::nullopt;
}

// str() is a field's string value, "<none>" or "<not a string>".
inline std::string str(const weft::amqp::FieldValue* v) {
  if (!v) return "<none>";
  if (auto* s = v->get<std::string>()) return *s;
  return "<not a string>";
}

}  // namespace weft_test
