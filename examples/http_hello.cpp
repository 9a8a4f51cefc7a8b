// weft-http-hello: a tiny HTTP/1.1 server answering every request with "hello\n", in
// the blocking style the runtime exists for: a fiber per connection, a loop of read()
// and write(), keep-alive for free.
//
// This is an example of the runtime, not an HTTP library: a request is whatever ends at
// "\r\n\r\n" (no bodies, no chunked encoding, no header parsing beyond spotting
// "Connection: close" and HTTP/1.0). Pipelined requests are answered in order.
//
//   weft-http-hello [host:port]  default 127.0.0.1:8080; try: curl -v 127.0.0.1:8080/
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>

#include "weft/net.h"
#include "weft/runtime.h"

namespace {

constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n";
constexpr std::string_view kHelloClose =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
    "Connection: close\r\n\r\nhello\n";

void serve(weft::net::TcpConn c) {
  std::string in;  // bytes read and not yet answered
  char buf[4096];
  for (;;) {
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > 64 * 1024) return;  // no end of headers in sight: drop the client
      auto n = c.read(buf, sizeof buf);
      if (!n) return;  // eof (the client is done), or an error
      in.append(buf, *n);
    }
    std::string head = in.substr(0, end + 2);
    in.erase(0, end + 4);
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    bool close = head.find("connection: close\r\n") != std::string::npos ||
                 (head.find(" http/1.0\r\n") != std::string::npos &&
                  head.find("connection: keep-alive\r\n") == std::string::npos);
    if (!c.write(close ? kHelloClose : kHello) || close) return;  // ~TcpConn closes
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string addr = argc > 1 ? argv[1] : "127.0.0.1:8080";
  int rc = 0;
  weft::run([&] {
    auto ln = weft::net::TcpListener::listen(addr);
    if (!ln) {
      std::fprintf(stderr, "weft-http-hello: %s: %s\n", addr.c_str(), ln.error().message().c_str());
      rc = 1;
      return;
    }
    std::printf("weft-http-hello: listening on http://%s/\n", ln->addr().to_string().c_str());
    std::fflush(stdout);
    while (auto conn = ln->accept())
      weft::go([c = std::move(*conn)]() mutable { serve(std::move(c)); });
  });
  return rc;
}
