// config/config.h: every setting of a weftd process, in one place.
//
// parse() reads the command line and the --config file (INI/TOML `key = value` lines,
// the keys named as the flags), validates every value, and resolves the defaults that
// depend on the machine (the memory watermark from the RAM size, the page directory
// from $TMPDIR), so that the rest of the broker reads plain, final values. Nothing else
// reads flags or the environment for broker settings.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/log.h"

namespace weftd {

struct Config {
  // Listeners. http_listen: the admin port (/debug, vars); empty: off.
  std::string amqp_listen = "127.0.0.1:5672";
  std::string http_listen = "127.0.0.1:15672";

  // Limits offered to clients in connection.tune, and what a message may be.
  std::uint16_t channel_max = 2047;
  std::uint32_t frame_max = 131072;
  std::uint16_t heartbeat = 60;  // seconds; the smaller non-zero of ours and the client's
  std::uint64_t max_message_size = 128ull << 20;
  std::chrono::seconds handshake_timeout{10};

  // The one user, until users and vhosts have a store of their own.
  std::string default_user = "guest", default_pass = "guest";

  // Per-connection output held back before consumers stop getting deliveries.
  std::size_t max_output_backlog = 1 << 20;
  // Message bytes above which publishing connections are blocked (connection.blocked,
  // and their sockets are not read) until consumers bring it down. Resolved by parse():
  // the flag's 0 becomes 40% of RAM, as RabbitMQ's default vm_memory_high_watermark.
  std::uint64_t memory_high_watermark = 0;
  // Bytes of ready messages a queue keeps in memory; past that it writes new messages
  // to an unlinked file in page_dir until its head reaches them (store/memory_store.h).
  // 0: every message stays in memory. page_dir is resolved by parse(): the flag's empty
  // value becomes $TMPDIR, else /tmp.
  std::uint64_t queue_memory_window = 64ull << 20;
  std::string page_dir;

  LogLevel log_level = LogLevel::info;
  // Poll the sockets this long before sleeping when idle (weft::Options); 0: never.
  int poll_spin_us = 0;
};

// parse() fills *cfg from argv and the config file. Returns nullopt to go on, or the
// exit status to end the process with (0 after --help; 2 and a message on stderr for a
// bad flag or value).
std::optional<int> parse(int argc, char** argv, Config* cfg);

// default_memory_high_watermark(): 40% of the machine's RAM (1 GiB if unknown).
std::uint64_t default_memory_high_watermark();

}  // namespace weftd
