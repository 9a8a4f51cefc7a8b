// weft/debug/handlers.h: Go's net/http/pprof and expvar for any server on weft.
//
//   weft::debug::HttpServer http;
//   weft::debug::install(http);          // /debug/pprof/... and /debug/vars
//   auto l = weft::net::TcpListener::listen("127.0.0.1:6060");
//   weft::go([&] { http.serve(*l); });
//
// Endpoints (as Go names them, so `go tool pprof http://host/debug/pprof/profile` works):
//   /debug/pprof/                       index
//   /debug/pprof/profile?seconds=N      CPU profile (default 30 s; hz=N overrides 100)
//   /debug/pprof/block, /mutex          contention profiles (rate/fraction set elsewhere;
//                                       ?rate=N / ?fraction=N sets them)
//   /debug/pprof/goroutine?debug=0|1|2  fibers: proto; grouped text; every fiber
//   /debug/pprof/cmdline, /symbol       pprof's helpers
//   /debug/pprof/trace?seconds=N        the scheduler trace as Chrome trace-event JSON
//   /debug/vars                         JSON: scheduler, fibers, netpoller, stacks, memory,
//                                       and whatever the program publish()ed
// These endpoints expose internals: serve them on a loopback address.
#pragma once

#include <functional>
#include <string>

#include "weft/debug/http.h"
#include "weft/trace.h"

namespace weft::debug {

void install(HttpServer& server);

// publish() adds `name` to /debug/vars; `json` returns its current value as JSON text
// (Go's expvar.Publish). Replaces an earlier variable of the same name.
void publish(std::string name, std::function<std::string()> json);

// vars_json() is the body of /debug/vars.
std::string vars_json();

// trace_json() renders a scheduler trace as Chrome trace-event JSON (Perfetto,
// chrome://tracing): a track per P and per M with fiber slices, M idle slices, and
// instant events for creation, wake-ups, steals, hand-offs, netpoll and stack GC.
std::string trace_json(const trace::Trace& t);

}  // namespace weft::debug
