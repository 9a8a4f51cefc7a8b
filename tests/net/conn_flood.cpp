// conn_flood: the client half of NetProcess.TenThousandConcurrentConnections.
//   conn_flood HOST:PORT N
// Dials N connections (at most 256 dials in flight), sends one byte on each and reads
// its echo, and keeps every connection open until all N have been echoed -- so the
// server holds N at once. Exit status 0 if all N worked; errors go to stderr.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/net.h"
#include "weft/runtime.h"
#include "weft/semaphore.h"
#include "weft/waitgroup.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: conn_flood HOST:PORT N\n");
    return 2;
  }
  const std::string addr = argv[1];
  const int n = std::atoi(argv[2]);
  int failures = 0;
  weft::run([&] {
    std::vector<weft::net::TcpConn> conns(static_cast<std::size_t>(n));
    weft::WaitGroup wg;
    weft::Semaphore dials(256);
    std::atomic<int> failed{0};
    for (int i = 0; i < n; i++) {
      wg.add(1);
      weft::go([&, i, wg] {
        dials.acquire(1);
        auto c = weft::net::dial_tcp(addr);
        dials.release(1);
        char b = 'x';
        if (!c || !c->write(&b, 1) || !c->read_full(&b, 1)) {
          std::fprintf(stderr, "conn_flood: connection %d: %s\n", i,
                       c ? "echo failed" : c.error().message().c_str());
          failed++;
        } else {
          conns[static_cast<std::size_t>(i)] = std::move(*c);
        }
        wg.done();
      });
    }
    wg.wait();  // every connection is open and echoed; closing them ends the server's
    failures = failed.load();
  });
  return failures == 0 ? 0 : 1;
}
