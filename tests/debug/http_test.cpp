// http_test.cpp: weft::debug::HttpServer over real loopback sockets: routing, keep-alive,
// query decoding, request bodies, malformed requests, and stopping with idle clients.
#include "weft/debug/http.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "../runtime/weft_test.h"
#include "weft/debug/pprof.h"
#include "weft/net.h"

namespace {

using weft::debug::HttpServer;
using weft::debug::Request;
using weft::debug::Response;
namespace net = weft::net;

class HttpTest : public WeftTest {
 protected:
  // serve() starts `server` on a loopback listener, returns its address.
  std::string serve(HttpServer& server, net::TcpListener& ln) {
    ln = std::move(*net::TcpListener::listen("127.0.0.1:0"));
    go([&server, &ln] { server.serve(ln); });
    return ln.addr().to_string();
  }

  // read_response() reads one response (headers and a Content-Length body).
  static std::string read_response(net::Conn& c) {
    std::string got;
    char buf[4096];
    for (;;) {
      std::size_t end = got.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t cl = got.find("Content-Length: ");
        std::size_t len = cl == std::string::npos ? 0 : std::stoul(got.substr(cl + 16));
        if (got.size() >= end + 4 + len) return got;
      }
      auto n = c.read(buf, sizeof buf);
      if (!n) return got;
      got.append(buf, *n);
    }
  }

  static void routes(HttpServer& s) {
    s.handle("/exact", [](const Request& r) {
      return Response::text("exact " + r.method + " " + r.param("q", "none") + " " + r.body);
    });
    s.handle("/tree/", [](const Request& r) { return Response::text("tree " + r.path); });
    s.handle("/tree/deeper/", [](const Request& r) { return Response::text("deeper " + r.path); });
    s.handle("/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  }
};
WEFT_INSTANTIATE(HttpTest);

TEST_P(HttpTest, RoutesLongestPatternAndDecodesQueries) {
  run([&] {
    HttpServer server;
    routes(server);
    auto get = [&](const char* path) {
      Request r;
      r.method = "GET";
      r.path = path;
      return server.dispatch(r);
    };
    EXPECT_EQ(get("/tree/a").body, "tree /tree/a");
    EXPECT_EQ(get("/tree/deeper/b").body, "deeper /tree/deeper/b");
    EXPECT_EQ(get("/exact/").status, 404);
    EXPECT_EQ(get("/throws").status, 500);

    net::TcpListener ln;
    std::string addr = serve(server, ln);
    auto c = net::dial_tcp(addr);
    ASSERT_TRUE(c);
    // Two requests on one keep-alive connection; the second with a body.
    ASSERT_TRUE(c->write("GET /exact?q=a%20b+c&x HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string r1 = read_response(*c);
    EXPECT_NE(r1.find("HTTP/1.1 200 OK"), std::string::npos) << r1;
    EXPECT_NE(r1.find("exact GET a b c "), std::string::npos) << r1;
    ASSERT_TRUE(c->write("POST /exact HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
    std::string r2 = read_response(*c);
    EXPECT_NE(r2.find("exact POST none hello"), std::string::npos) << r2;
    ASSERT_TRUE(c->write("GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    std::string r3 = read_response(*c);
    EXPECT_NE(r3.find("HTTP/1.1 404"), std::string::npos) << r3;
    char b;
    EXPECT_FALSE(c->read(&b, 1));  // the server closed: Connection: close
    ln.close();
    join();
  });
}

TEST_P(HttpTest, MalformedRequestGets400AndTheServerGoesOn) {
  run([&] {
    HttpServer server;
    routes(server);
    net::TcpListener ln;
    std::string addr = serve(server, ln);
    {
      auto c = net::dial_tcp(addr);
      ASSERT_TRUE(c);
      ASSERT_TRUE(c->write("NOT HTTP AT ALL\r\n\r\n"));
      std::string r = read_response(*c);
      EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    }
    {
      auto c = net::dial_tcp(addr);  // a body over the 1 MiB limit
      ASSERT_TRUE(c);
      ASSERT_TRUE(c->write("POST /exact HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999\r\n\r\n"));
      std::string r = read_response(*c);
      EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    }
    {
      auto c = net::dial_tcp(addr);  // a truncated request: the client half-closes
      ASSERT_TRUE(c);
      ASSERT_TRUE(c->write("GET /exact HTTP/1.1\r\nHost:"));
      c->shutdown_write();
      std::string r = read_response(*c);
      EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    }
    auto c = net::dial_tcp(addr);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->write("GET /tree/x HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_NE(read_response(*c).find("tree /tree/x"), std::string::npos);
    ln.close();  // serve() ends this idle keep-alive connection and returns
    join();
  });
}

TEST(GzipTest, RoundTripsThroughZlib) {
  std::string data;
  for (int i = 0; i < 20000; i++) data += std::to_string(i) + ",";
  std::string z = weft::debug::gzip(data);
  ASSERT_GE(z.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(z[1]), 0x8b);
  z_stream s{};
  ASSERT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  std::string out(data.size() + 1, '\0');
  s.next_in = reinterpret_cast<Bytef*>(z.data());
  s.avail_in = static_cast<uInt>(z.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  EXPECT_EQ(out, data);
}

}  // namespace
