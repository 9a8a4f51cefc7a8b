// handlers.cpp: the /debug endpoints (see weft/debug/handlers.h), after Go's
// net/http/pprof: each handler is blocking code that takes a raw profile from the
// runtime (weft/profile.h, weft/trace.h) and renders it (pprof.h, trace_json.cpp).
#include "weft/debug/handlers.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "weft/debug/pprof.h"
#include "weft/introspect.h"
#include "weft/profile.h"
#include "weft/time.h"
#include "weft/trace.h"

namespace weft::debug {

namespace {

constexpr const char* kProto = "application/octet-stream";

// int_param() parses a non-negative integer parameter, or returns `def`; -1 if invalid.
long long int_param(const Request& r, const char* name, long long def) {
  std::string v = r.param(name);
  if (v.empty()) return def;
  try {
    std::size_t used = 0;
    long long n = std::stoll(v, &used);
    return used == v.size() && n >= 0 ? n : -1;
  } catch (...) {
    return -1;
  }
}

Response attachment(std::string body, const char* filename) {
  Response res;
  res.content_type = kProto;
  res.headers.emplace_back("Content-Disposition",
                           std::string("attachment; filename=\"") + filename + "\"");
  res.body = std::move(body);
  return res;
}

Response index_page(const Request&) {
  auto fibers = weft::fibers();
  std::ostringstream os;
  os << "<html><head><title>/debug/pprof/</title></head><body>\n"
     << "<h1>/debug/pprof/</h1>\n<p>Profiles of this weft process:</p>\n<table>\n"
     << "<tr><td>" << weft::profile::block().size() << "</td><td><a href=\"block\">block</a></td>"
     << "<td>stacks that blocked on channels, select, locks, conditions, WaitGroups</td></tr>\n"
     << "<tr><td></td><td><a href=\"cmdline\">cmdline</a></td><td>the command line</td></tr>\n"
     << "<tr><td>" << fibers.size() << "</td><td><a href=\"goroutine?debug=1\">goroutine</a></td>"
     << "<td>stacks of every live fiber (debug=2: each fiber, panic style)</td></tr>\n"
     << "<tr><td>" << weft::profile::mutex().size() << "</td><td><a href=\"mutex\">mutex</a></td>"
     << "<td>stacks of holders of contended locks</td></tr>\n"
     << "<tr><td></td><td><a href=\"profile?seconds=30\">profile</a></td>"
     << "<td>CPU profile (seconds=N)</td></tr>\n"
     << "<tr><td></td><td><a href=\"trace?seconds=1\">trace</a></td>"
     << "<td>scheduler trace, Chrome trace-event JSON for ui.perfetto.dev</td></tr>\n"
     << "</table>\n<p><a href=\"/debug/vars\">/debug/vars</a></p>\n</body></html>\n";
  Response res = Response::text(os.str());
  res.content_type = "text/html; charset=utf-8";
  return res;
}

Response cpu(const Request& r) {
  long long seconds = int_param(r, "seconds", 30);
  long long hz = int_param(r, "hz", 100);
  if (seconds <= 0 || hz <= 0 || hz > 10000) return Response::error(400, "bad seconds or hz");
  if (!weft::profile::start_cpu(static_cast<int>(hz)))
    return Response::error(500, "Could not enable CPU profiling: cpu profiling already in use");
  weft::sleep_for(std::chrono::seconds(seconds));
  return attachment(cpu_proto(weft::profile::stop_cpu()), "profile");
}

Response block(const Request& r) {
  long long rate = int_param(r, "rate", -2);
  if (rate == -1) return Response::error(400, "bad rate");
  if (rate >= 0) weft::set_block_profile_rate(rate);
  return attachment(contention_proto(weft::profile::block(), weft::profile::block_rate()), "block");
}

Response mutex(const Request& r) {
  long long fraction = int_param(r, "fraction", -2);
  if (fraction == -1) return Response::error(400, "bad fraction");
  if (fraction >= 0) weft::set_mutex_profile_fraction(static_cast<int>(fraction));
  return attachment(contention_proto(weft::profile::mutex(), weft::profile::mutex_fraction()),
                    "mutex");
}

Response goroutine(const Request& r) {
  long long debug = int_param(r, "debug", 0);
  if (debug < 0) return Response::error(400, "bad debug");
  auto stacks = weft::profile::fiber_stacks();
  if (debug == 0) return attachment(fibers_proto(stacks), "goroutine");
  return Response::text(fibers_text(stacks, static_cast<int>(debug)));
}

Response cmdline(const Request&) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!all.empty() && all.back() == '\0') all.pop_back();
  return Response::text(all);  // arguments separated by NULs, as Go's
}

Response symbol(const Request& r) {
  // pprof first asks whether symbols are available (GET), then POSTs addresses.
  if (r.method == "GET" && r.query.empty()) return Response::text("num_symbols: 1\n");
  std::string query = r.method == "POST" ? r.body : r.target.substr(r.target.find('?') + 1);
  return Response::text(symbolize_text(query));
}

Response trace(const Request& r) {
  long long seconds = int_param(r, "seconds", 1);
  if (seconds <= 0 || seconds > 600) return Response::error(400, "bad seconds");
  if (!weft::trace::start()) return Response::error(500, "a scheduler trace is already running");
  weft::sleep_for(std::chrono::seconds(seconds));
  Response res = Response::text(trace_json(weft::trace::stop()));
  res.content_type = "application/json";
  return res;
}

Response vars(const Request&) {
  Response res = Response::text(vars_json());
  res.content_type = "application/json; charset=utf-8";
  return res;
}

}  // namespace

void install(HttpServer& server) {
  server.handle("/debug/pprof/", [](const Request& r) {
    // Named profiles under the index, as Go's pprof.Index dispatches them.
    std::string name = r.path.substr(std::string("/debug/pprof/").size());
    if (name.empty()) return index_page(r);
    if (name == "goroutine") return goroutine(r);
    if (name == "block") return block(r);
    if (name == "mutex") return mutex(r);
    return Response::error(404, "Unknown profile: " + name);
  });
  server.handle("/debug/pprof/profile", cpu);
  server.handle("/debug/pprof/cmdline", cmdline);
  server.handle("/debug/pprof/symbol", symbol);
  server.handle("/debug/pprof/trace", trace);
  server.handle("/debug/vars", vars);
}

}  // namespace weft::debug
