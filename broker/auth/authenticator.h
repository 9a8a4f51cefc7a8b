// auth/authenticator.h: who may connect -- the user check a connection's handshake
// asks for (RabbitMQ's rabbit_access_control:check_user_login), and the loopback rule.
//
// Today there is one user, from the configuration; the user store (with vhosts and
// permissions) will live behind the same call. guest may log in from loopback only, as
// RabbitMQ's default loopback_users. Thread-safe: it is immutable after construction.
#pragma once

#include <optional>
#include <string>

#include "weft/net.h"

namespace weftd::auth {

// is_loopback(): the address is 127.0.0.0/8, ::1, an IPv4-mapped loopback, or a Unix
// socket.
bool is_loopback(const weft::net::Address& a);

class Authenticator {
 public:
  Authenticator(std::string user, std::string password)
      : user_(std::move(user)), password_(std::move(password)) {}

  // login() checks a start-ok's mechanism and response from `peer`. On success it
  // returns nullopt and sets *user; otherwise the refusal text (its reply code is 403
  // ACCESS_REFUSED), in RabbitMQ's words.
  std::optional<std::string> login(const std::string& mechanism, const std::string& response,
                                   const weft::net::Address& peer, std::string* user) const;

 private:
  const std::string user_, password_;
};

}  // namespace weftd::auth
