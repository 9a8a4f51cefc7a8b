// weft/debug/http.h: a small HTTP/1.1 server on weft's own sockets.
//
// Enough HTTP for admin and /debug endpoints, in the blocking style of the rest of weft:
// serve() runs an accept loop and one fiber per connection; a handler is a plain
// function from Request to Response that may block (sleep, wait on a channel) as long as
// it likes. Requests are parsed by Boost.Beast's parser fed from our sockets; responses
// are serialized by Beast. Keep-alive, request bodies (for POST /debug/pprof/symbol) and
// limits (64 KiB headers, 1 MiB bodies, a 60 s idle deadline) are handled here.
//
// Routing follows Go's ServeMux: a pattern names a fixed path ("/debug/vars") or, ending
// in '/', a subtree ("/debug/pprof/"); the longest matching pattern wins.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weft/net.h"

namespace weft::debug {

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string target;                        // as sent: "/debug/pprof/profile?seconds=5"
  std::string path;                          // "/debug/pprof/profile" (percent-decoded)
  std::map<std::string, std::string> query;  // decoded query parameters
  std::string body;
  net::Address remote;

  // param() is query[name], or `def` when absent.
  std::string param(const std::string& name, const std::string& def = "") const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;

  static Response text(std::string body, int status = 200);
  static Response error(int status, std::string message);
};

using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // handle() registers `handler` for `pattern` (see the header comment). Call before
  // serve(); registering twice replaces.
  void handle(std::string pattern, Handler handler);

  // serve() accepts connections on `listener` until it is closed (returns then, after
  // the connections in flight have finished their current request). Blocks the calling
  // fiber.
  void serve(net::Listener& listener);

  // dispatch() routes one request, as serve() does (for tests and embedding).
  Response dispatch(const Request& req) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::debug
