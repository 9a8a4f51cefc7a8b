// broker.cpp: the accept loop and the connection registry (broker.h).
#include "broker.h"

#include <mutex>

#include "connection.h"
#include "log.h"
#include "weft/runtime.h"
#include "weft/waitgroup.h"

namespace weftd {

void Broker::serve(weft::net::TcpListener& ln) {
  weft::WaitGroup wg;
  for (;;) {
    auto c = ln.accept();
    if (!c) {
      if (c.error() == weft::net::Error::closed) break;
      log_warn("accept: %s", c.error().message().c_str());
      continue;  // EMFILE and friends: keep serving the connections we have
    }
    auto conn = std::make_shared<Connection>(*this, std::move(*c), next_connection_id());
    {
      std::lock_guard lock(mu_);
      connections_.insert(conn);
    }
    wg.add(1);
    weft::go("weftd-connection", [this, conn, wg] {
      conn->serve();
      {
        std::lock_guard lock(mu_);
        connections_.erase(conn);
      }
      wg.done();
    });
  }
  wg.wait();
}

void Broker::close_all() {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    all.assign(connections_.begin(), connections_.end());
  }
  for (auto& c : all) c->force_close(weft::amqp::ReplyCode::connection_forced, "broker shutdown");
}

std::size_t Broker::connection_count() {
  std::lock_guard lock(mu_);
  return connections_.size();
}

}  // namespace weftd
