// address.cpp: socket addresses, host:port parsing, name resolution, and weft::net's
// error category.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

#include "weft/net.h"
#include "weft/runtime.h"

namespace weft::net {

// ---- errors ------------------------------------------------------------------------

namespace {
class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.net"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::eof:
        return "end of stream";
      case Error::closed:
        return "use of closed network connection";
      case Error::timeout:
        return "i/o timeout";
      case Error::unexpected_eof:
        return "unexpected end of stream";
      case Error::bad_address:
        return "bad address";
      case Error::host_not_found:
        return "no such host";
    }
    return "unknown weft.net error";
  }
  // A timeout compares equal to std::errc::timed_out.
  std::error_condition default_error_condition(int ev) const noexcept override {
    if (static_cast<Error>(ev) == Error::timeout) return std::errc::timed_out;
    return {ev, *this};
  }
};
}  // namespace

const std::error_category& net_category() {
  static const NetCategory category;
  return category;
}

std::error_code make_error_code(Error e) { return {static_cast<int>(e), net_category()}; }

// ---- addresses ---------------------------------------------------------------------

Address::Address(const sockaddr* sa, socklen_t len) {
  len_ = std::min<socklen_t>(len, sizeof storage_);
  std::memcpy(&storage_, sa, len_);
}

Address Address::unix_path(std::string_view path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const std::size_t n = std::min(path.size(), sizeof un.sun_path - 1);
  std::memcpy(un.sun_path, path.data(), n);
  return Address(reinterpret_cast<sockaddr*>(&un),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1));
}

Result<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view hp) {
  std::string_view host, port;
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
      return Error::bad_address;
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return Error::bad_address;
    host = hp.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return Error::bad_address;  // v6 needs []
    port = hp.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535)
    return Error::bad_address;
  return std::pair{std::string(host), static_cast<std::uint16_t>(value)};
}

namespace {
// numeric() parses a literal IPv4 or IPv6 host ("" is IPv4's any address).
bool numeric(const std::string& host, std::uint16_t port, Address* out) {
  if (host.empty() || host.find_first_not_of("0123456789.") == std::string::npos) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    if (!host.empty() && inet_pton(AF_INET, host.c_str(), &in.sin_addr) != 1) return false;
    *out = Address(reinterpret_cast<sockaddr*>(&in), sizeof in);
    return true;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  if (inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) != 1) return false;
  *out = Address(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
  return true;
}
}  // namespace

Result<Address> Address::parse(std::string_view hp) {
  if (hp.starts_with("unix:")) return unix_path(hp.substr(5));
  auto split = split_host_port(hp);
  if (!split) return split.error();
  Address a;
  if (!numeric(split->first, split->second, &a)) return Error::bad_address;
  return a;
}

std::uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
    return buf;
  }
  if (family() == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
    const std::size_t max =
        len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
    return std::string(un->sun_path, strnlen(un->sun_path, max));
  }
  return "";
}

std::string Address::to_string() const {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "[" + host() + "]:".
  std::string out;
  if (family() == AF_INET6)
    out.append("[").append(host()).append("]:");
  else if (family() == AF_INET)
    out.append(host()).append(":");
  else if (family() == AF_UNIX)
    return out.append("unix:").append(host());
  else
    return out;
  return out.append(std::to_string(port()));
}

bool Address::operator==(const Address& o) const {
  return len_ == o.len_ && std::memcmp(&storage_, &o.storage_, len_) == 0;
}

Result<std::vector<Address>> resolve(std::string_view host_view, std::uint16_t port) {
  std::string host(host_view);
  Address a;
  if (numeric(host, port, &a)) return std::vector<Address>{a};
  // getaddrinfo blocks (files, DNS): on a thread of its own while the P runs on.
  return weft::blocking([&]() -> Result<std::vector<Address>> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) {
      if (rc == EAI_SYSTEM) return std::error_code(errno, std::system_category());
      return make_error_code(Error::host_not_found);
    }
    std::vector<Address> out;
    for (addrinfo* ai = res; ai; ai = ai->ai_next)
      out.emplace_back(ai->ai_addr, static_cast<socklen_t>(ai->ai_addrlen));
    freeaddrinfo(res);
    if (out.empty()) return make_error_code(Error::host_not_found);
    return out;
  });
}

}  // namespace weft::net
