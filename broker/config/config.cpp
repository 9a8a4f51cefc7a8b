// config/config.cpp: see config/config.h. The flags are parsed with CLI11.
#include "config/config.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

namespace weftd {

std::uint64_t default_memory_high_watermark() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  unsigned long long kb = 0;
  if (f) {
    if (std::fscanf(f, "MemTotal: %llu kB", &kb) != 1) kb = 0;
    std::fclose(f);
  }
  return kb ? kb * 1024 * 2 / 5 : 1ull << 30;
}

std::optional<int> parse(int argc, char** argv, Config* cfg) {
  std::string log_level = "info";
  CLI::App app{"weftd: an AMQP 0-9-1 message broker on the weft runtime"};
  app.set_config("--config", "", "Read options from a config file (key = value)");
  app.add_option("--amqp-listen", cfg->amqp_listen, "AMQP listener address")->capture_default_str();
  app.add_option("--http-listen", cfg->http_listen,
                 "HTTP admin and /debug listener (profiles, fiber dumps, vars; empty: off)")
      ->capture_default_str();
  app.add_option("--heartbeat", cfg->heartbeat, "Heartbeat offered to clients, seconds (0: off)")
      ->capture_default_str();
  app.add_option("--frame-max", cfg->frame_max, "Largest frame accepted, bytes")
      ->capture_default_str()
      ->check(CLI::Range(4096u, 1u << 30));
  app.add_option("--channel-max", cfg->channel_max, "Channels per connection")
      ->capture_default_str();
  app.add_option("--max-message-size", cfg->max_message_size, "Largest message body, bytes")
      ->capture_default_str();
  app.add_option("--memory-high-watermark", cfg->memory_high_watermark,
                 "Message bytes that block publishers (0: 40% of RAM)")
      ->capture_default_str();
  app.add_option("--queue-memory-window", cfg->queue_memory_window,
                 "Bytes of ready messages a queue keeps in memory; past that, new messages "
                 "go to an unlinked file in --page-dir until the queue reaches them (0: all "
                 "in memory)")
      ->capture_default_str();
  app.add_option("--page-dir", cfg->page_dir,
                 "Directory for queues' page files (default: $TMPDIR, else /tmp)");
  app.add_option("--default-user", cfg->default_user, "User name")->capture_default_str();
  app.add_option("--default-pass", cfg->default_pass, "Password")->capture_default_str();
  app.add_option("--log-level", log_level, "debug | info | warn | error")->capture_default_str();
  app.add_option("--poll-spin-us", cfg->poll_spin_us,
                 "Poll the sockets this long before sleeping when idle: no thread wake-up "
                 "for a request arriving meanwhile, for up to this much CPU per idle spell "
                 "(0: never; it costs more than it gains on 2 cores, docs/benchmarks.md)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!parse_log_level(log_level.c_str(), &cfg->log_level)) {
    std::fprintf(stderr, "weftd: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  if (cfg->memory_high_watermark == 0) cfg->memory_high_watermark = default_memory_high_watermark();
  if (cfg->page_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    cfg->page_dir = tmp && *tmp ? tmp : "/tmp";
  }
  return std::nullopt;
}

}  // namespace weftd
