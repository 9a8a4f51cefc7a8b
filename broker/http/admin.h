// http/admin.h: weftd's admin port -- Go's /debug endpoints (weft::debug: pprof
// profiles, fiber dumps, trace, vars) and weftd's own variables under /debug/vars
// "weftd", read from the metrics registry's snapshots, never from a connection's or a
// queue's live state.
//
// It exposes internals (stacks, command line, memory), so it belongs on loopback; serve()
// warns when it is not.
#pragma once

#include <string>

#include "metrics/metrics.h"
#include "weft/debug/http.h"
#include "weft/net.h"

namespace weftd {

class AdminServer {
 public:
  // registry outlives the server.
  explicit AdminServer(metrics::Registry& registry);

  // serve() answers requests on ln until it is closed.
  void serve(weft::net::TcpListener& ln);

 private:
  metrics::Registry& registry_;
  weft::debug::HttpServer http_;
};

// weftd_vars() is the "weftd" entry of /debug/vars for a snapshot, as JSON text.
std::string weftd_vars(const metrics::Snapshot& s);

}  // namespace weftd
