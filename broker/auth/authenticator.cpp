// auth/authenticator.cpp: see auth/authenticator.h.
#include "auth/authenticator.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "auth/sasl.h"

namespace weftd::auth {

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

std::optional<std::string> Authenticator::login(const std::string& mechanism,
                                                const std::string& response,
                                                const weft::net::Address& peer,
                                                std::string* user) const {
  auto creds = parse_response(mechanism, response);
  if (!creds) return "unsupported authentication mechanism '" + mechanism + "'";
  if (creds->user != user_ || creds->password != password_)
    return "Login was refused using authentication mechanism " + mechanism +
           ". For details see the broker logfile.";
  if (creds->user == "guest" && !is_loopback(peer))
    return "user 'guest' - User can only log in via localhost";
  *user = creds->user;
  return std::nullopt;
}

}  // namespace weftd::auth
