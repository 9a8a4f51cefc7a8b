// auth/sasl.cpp: see auth/sasl.h.
#include "auth/sasl.h"

#include <cstdint>

#include "weft/amqp/types.h"

namespace weftd::auth {

namespace amqp = weft::amqp;

namespace {

Credentials parse_plain(const std::string& r) {
  Credentials c;
  auto a = r.find('\0'), b = a == std::string::npos ? a : r.find('\0', a + 1);
  if (b != std::string::npos) c.user = r.substr(a + 1, b - a - 1), c.password = r.substr(b + 1);
  return c;
}

Credentials parse_amqplain(const std::string& response) {
  // Put the length prefix back, and read it as a field table.
  std::string t(4, '\0');
  const auto n = static_cast<std::uint32_t>(response.size());
  t[0] = char(n >> 24), t[1] = char(n >> 16), t[2] = char(n >> 8), t[3] = char(n);
  t += response;
  amqp::Reader r(t);
  amqp::FieldTable tbl = r.table();
  auto str = [&](const char* k) {
    const amqp::FieldValue* v = tbl.find(k);
    const std::string* s = v ? v->get<std::string>() : nullptr;
    return s ? *s : std::string();
  };
  return Credentials{str("LOGIN"), str("PASSWORD")};
}

}  // namespace

std::optional<Credentials> parse_response(const std::string& mechanism,
                                          const std::string& response) {
  if (mechanism == "PLAIN") return parse_plain(response);
  if (mechanism == "AMQPLAIN") return parse_amqplain(response);
  return std::nullopt;
}

}  // namespace weftd::auth
