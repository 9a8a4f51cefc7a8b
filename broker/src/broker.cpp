// broker.cpp: the accept loop and the connection registry (broker.h).
#include "broker.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "channel.h"
#include "connection.h"
#include "log.h"
#include "weft/runtime.h"
#include "weft/waitgroup.h"

namespace weftd {

namespace {
std::uint64_t default_watermark() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  unsigned long long kb = 0;
  if (f) {
    if (std::fscanf(f, "MemTotal: %llu kB", &kb) != 1) kb = 0;
    std::fclose(f);
  }
  return kb ? kb * 1024 * 2 / 5 : 1ull << 30;
}
std::string page_dir(const Config& c) {
  if (!c.page_dir.empty()) return c.page_dir;
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}
}  // namespace

Broker::Broker(Config cfg)
    : cfg_(std::move(cfg)),
      watermark_(cfg_.memory_high_watermark ? cfg_.memory_high_watermark : default_watermark()),
      paging_{cfg_.queue_memory_window, page_dir(cfg_)},
      default_vhost_("/", &paging_) {
  log_info("memory high watermark: %llu bytes", static_cast<unsigned long long>(watermark_));
  if (paging_.window > 0)
    log_info("queues keep %llu bytes of messages in memory, the rest in %s",
             static_cast<unsigned long long>(paging_.window), paging_.dir.c_str());
}

bool Broker::memory_alarm() const {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(
             0, message_bytes().load(std::memory_order_relaxed))) > watermark_;
}

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

void Broker::register_reply_to(const std::string& token, Channel* ch) {
  std::lock_guard lock(reply_mu_);
  reply_to_[token] = ch;
}

void Broker::unregister_reply_to(const std::string& token) {
  std::lock_guard lock(reply_mu_);
  reply_to_.erase(token);
}

bool Broker::deliver_reply_to(const std::string& token, const MessagePtr& m) {
  std::lock_guard lock(reply_mu_);
  auto it = reply_to_.find(token);
  if (it == reply_to_.end()) return false;
  it->second->deliver_reply(m);
  return true;
}

std::size_t Broker::connection_count() {
  std::lock_guard lock(mu_);
  return connections_.size();
}

}  // namespace weftd
