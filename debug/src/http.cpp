// http.cpp: see weft/debug/http.h.
//
// One fiber per connection: read into a contiguous buffer, feed Beast's parser until a
// request is complete (Beast wants the whole header in one buffer, so bytes it has not
// consumed stay at the front of `pending`), route it, serialize the response with
// Beast, write it in one call, and loop while the client keeps the connection alive.
#include "weft/debug/http.h"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <set>
#include <sstream>

#include "weft/mutex.h"
#include "weft/runtime.h"
#include "weft/time.h"
#include "weft/waitgroup.h"

namespace weft::debug {

namespace http = boost::beast::http;

namespace {

constexpr std::size_t kHeaderLimit = 64 << 10;
constexpr std::size_t kBodyLimit = 1 << 20;
constexpr auto kIdleDeadline = std::chrono::seconds(60);

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// percent_decode() undoes URL encoding ('+' is a space in a query, as in forms).
std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void split_target(Request& req) {
  std::string_view t = req.target;
  std::size_t q = t.find('?');
  req.path = percent_decode(t.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    std::size_t eq = kv.find('=');
    std::string key = percent_decode(kv.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1), true);
    if (!key.empty()) req.query.emplace(std::move(key), std::move(value));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

std::string serialize(const Response& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "weft");
  res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  return std::move(os).str();
}

}  // namespace

std::string Request::param(const std::string& name, const std::string& def) const {
  auto it = query.find(name);
  return it == query.end() ? def : it->second;
}

Response Response::text(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string message) {
  if (message.empty() || message.back() != '\n') message.push_back('\n');
  return text(std::move(message), status);
}

struct HttpServer::Impl {
  std::map<std::string, Handler> routes;
  // Connections being served, so that serve() can end idle keep-alive ones when its
  // listener closes.
  weft::Mutex mu;
  std::set<net::Conn*> live;

  void serve_conn(net::Conn& conn, const HttpServer& self);
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {}
HttpServer::~HttpServer() = default;

void HttpServer::handle(std::string pattern, Handler handler) {
  impl_->routes[std::move(pattern)] = std::move(handler);
}

Response HttpServer::dispatch(const Request& req) const {
  // Longest match: an exact pattern, else the longest subtree pattern ("/a/") that
  // prefixes the path.
  const Handler* best = nullptr;
  std::size_t best_len = 0;
  for (auto& [pattern, handler] : impl_->routes) {
    bool subtree = !pattern.empty() && pattern.back() == '/';
    bool match = subtree ? req.path.compare(0, pattern.size(), pattern) == 0 : req.path == pattern;
    if (match && pattern.size() >= best_len) {
      best = &handler;
      best_len = pattern.size();
    }
  }
  if (!best) return Response::error(404, "404 page not found");
  try {
    return (*best)(req);
  } catch (const std::exception& e) {
    return Response::error(500, std::string("internal error: ") + e.what());
  }
}

void HttpServer::Impl::serve_conn(net::Conn& conn, const HttpServer& self) {
  std::string pending;
  char chunk[16 << 10];
  net::Address remote = conn.remote_addr();
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    parser.eager(true);
    bool eof = false;
    while (!parser.is_done()) {
      boost::beast::error_code ec;
      if (!pending.empty()) {
        std::size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
        pending.erase(0, used);
        if (!ec) continue;
        if (ec != http::error::need_more) {
          auto msg = "400 Bad Request: " + ec.message();
          (void)conn.write_all({serialize(Response::error(400, msg), 11, false)});
          return;
        }
      }
      if (eof) {
        if (parser.got_some()) {
          (void)conn.write_all(
              {serialize(Response::error(400, "400 Bad Request: truncated"), 11, false)});
        }
        return;
      }
      conn.set_read_deadline(net::after(kIdleDeadline));
      auto n = conn.read(chunk, sizeof chunk);
      if (!n) {
        if (n.error() != net::Error::eof) return;
        eof = true;
        continue;
      }
      pending.append(chunk, *n);
    }
    auto& msg = parser.get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.body = std::move(msg.body());
    req.remote = remote;
    split_target(req);
    bool keep_alive = msg.keep_alive();
    Response res = self.dispatch(req);
    if (!conn.write_all({serialize(res, msg.version(), keep_alive)})) return;
    if (!keep_alive) return;
  }
}

void HttpServer::serve(net::Listener& listener) {
  weft::WaitGroup wg;
  for (;;) {
    auto c = listener.accept();
    if (!c) {
      if (c.error() == net::Error::closed) break;
      weft::sleep_for(std::chrono::milliseconds(10));  // EMFILE and friends: back off
      continue;
    }
    wg.add(1);
    weft::go("http conn", [this, wg, conn = std::move(*c)]() mutable {
      {
        std::lock_guard lock(impl_->mu);
        impl_->live.insert(&conn);
      }
      impl_->serve_conn(conn, *this);
      {
        std::lock_guard lock(impl_->mu);
        impl_->live.erase(&conn);
      }
      conn.close();
      wg.done();
    });
  }
  {
    std::lock_guard lock(impl_->mu);
    for (net::Conn* c : impl_->live) c->shutdown_read();
  }
  wg.wait();
}

}  // namespace weft::debug
