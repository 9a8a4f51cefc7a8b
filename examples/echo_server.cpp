// weft-echo: a TCP echo server written as plain blocking code -- one fiber per
// connection, reading and writing as if it had a thread of its own. The fibers park in
// the runtime's network poller whenever a socket is not ready, so ten thousand idle
// connections cost ten thousand small stacks, not ten thousand threads.
//
//   weft-echo [host:port]        default 127.0.0.1:7007; try: nc 127.0.0.1 7007
#include <cstdio>
#include <string>

#include "weft/net.h"
#include "weft/runtime.h"

int main(int argc, char** argv) {
  const std::string addr = argc > 1 ? argv[1] : "127.0.0.1:7007";
  int rc = 0;
  weft::run([&] {
    auto ln = weft::net::TcpListener::listen(addr);
    if (!ln) {
      std::fprintf(stderr, "weft-echo: %s: %s\n", addr.c_str(), ln.error().message().c_str());
      rc = 1;
      return;
    }
    std::printf("weft-echo: listening on %s\n", ln->addr().to_string().c_str());
    std::fflush(stdout);
    while (auto conn = ln->accept()) {
      weft::go([c = std::move(*conn)]() mutable {
        char buf[4096];
        while (auto n = c.read(buf, sizeof buf))  // until eof or an error
          if (!c.write(buf, *n)) break;
      });  // c's destructor closes the connection
    }
  });
  return rc;
}
