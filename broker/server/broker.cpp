// server/broker.cpp: see server/broker.h.
#include "server/broker.h"

#include <mutex>
#include <vector>

#include "base/log.h"
#include "weft/runtime.h"
#include "weft/waitgroup.h"

namespace weftd {

namespace {
ConnectionLimits limits_of(const Config& c) {
  ConnectionLimits l;
  l.channel_max = c.channel_max;
  l.frame_max = c.frame_max;
  l.heartbeat = c.heartbeat;
  l.max_message_size = c.max_message_size;
  l.handshake_timeout = c.handshake_timeout;
  l.max_output_backlog = c.max_output_backlog;
  return l;
}
}  // namespace

Broker::Broker(const Config& cfg)
    : cfg_(cfg),
      memory_(metrics_, cfg_.memory_high_watermark),
      stores_(PagingSettings{cfg_.queue_memory_window, cfg_.page_dir}, metrics_),
      auth_(cfg_.default_user, cfg_.default_pass) {
  // Only "/" exists until users, vhosts and permissions arrive.
  vhosts_["/"] = std::make_unique<VHost>("/", stores_, metrics_);
  context_.limits = limits_of(cfg_);
  context_.auth = &auth_;
  context_.find_vhost = [this](const std::string& name) -> VHost* {
    auto it = vhosts_.find(name);
    return it == vhosts_.end() ? nullptr : it->second.get();
  };
  context_.reply_to = &reply_to_;
  context_.memory = &memory_;
  context_.metrics = &metrics_;
  log_info("memory high watermark: %llu bytes",
           static_cast<unsigned long long>(memory_.watermark()));
  if (cfg_.queue_memory_window > 0)
    log_info("queues keep %llu bytes of messages in memory, the rest in %s",
             static_cast<unsigned long long>(cfg_.queue_memory_window), cfg_.page_dir.c_str());
}

Broker::~Broker() = default;

void Broker::serve(weft::net::TcpListener& ln) {
  weft::WaitGroup wg;
  for (;;) {
    auto c = ln.accept();
    if (!c) {
      if (c.error() == weft::net::Error::closed) break;
      log_warn("accept: %s", c.error().message().c_str());
      continue;  // EMFILE and friends: keep serving the connections we have
    }
    auto conn = std::make_shared<Connection>(context_, std::move(*c), ++connection_ids_);
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

}  // namespace weftd
