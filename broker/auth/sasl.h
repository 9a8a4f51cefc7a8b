// auth/sasl.h: the SASL mechanisms a client may name in connection.start-ok, and what
// each one's response says (RabbitMQ's rabbit_auth_mechanism_* modules).
//   PLAIN     [authzid] NUL authcid NUL passwd (RFC 4616)
//   AMQPLAIN  a field table without its length prefix, with LOGIN and PASSWORD
#pragma once

#include <optional>
#include <string>

namespace weftd::auth {

struct Credentials {
  std::string user, password;
};

// kMechanisms: the mechanisms offered in connection.start, space-separated.
inline constexpr const char* kMechanisms = "PLAIN AMQPLAIN";

// parse_response() reads a start-ok response for `mechanism`. nullopt: the mechanism
// is not one of kMechanisms. A malformed response gives empty credentials (which no
// user has), as RabbitMQ refuses it the same way as a wrong password.
std::optional<Credentials> parse_response(const std::string& mechanism,
                                          const std::string& response);

}  // namespace weftd::auth
