// http/admin.cpp: see http/admin.h.
#include "http/admin.h"

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "weft/debug/handlers.h"

namespace weftd {

std::string weftd_vars(const metrics::Snapshot& s) {
  const bool alarm = metrics::over_watermark(s.message_bytes, s.memory_high_watermark);
  std::int64_t ready = 0, consumers = 0;
  for (const auto& q : s.queues) ready += q.ready, consumers += q.consumers;
  nlohmann::json v = {{"connections", s.connections.size()},
                      {"channels", s.channels.size()},
                      {"queues", s.queues.size()},
                      {"consumers", consumers},
                      {"messages_ready", ready},
                      {"message_bytes", s.message_bytes},
                      {"memory_high_watermark", s.memory_high_watermark},
                      {"memory_alarm", alarm},
                      {"paged_messages", s.paged_messages},
                      {"paged_bytes", s.paged_bytes},
                      {"paged_total", s.paged_total}};
  return v.dump();
}

AdminServer::AdminServer(metrics::Registry& registry) : registry_(registry) {
  weft::debug::install(http_);
  weft::debug::publish("weftd", [this] { return weftd_vars(registry_.snapshot()); });
}

void AdminServer::serve(weft::net::TcpListener& ln) {
  auto addr = ln.addr();
  bool loopback = addr.host().rfind("127.", 0) == 0 || addr.host() == "::1";
  if (!loopback) {
    log_warn(
        "the HTTP admin listener %s is not a loopback address: /debug exposes "
        "stacks, profiles and the command line to anyone who can reach it",
        addr.to_string().c_str());
  }
  log_info("weftd serving /debug on http://%s/debug/pprof/", addr.to_string().c_str());
  http_.serve(ln);
}

}  // namespace weftd
