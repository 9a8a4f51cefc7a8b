// amqp091/server_names.h: names the server makes up -- amq.gen- queue names,
// amq.ctag- consumer tags, direct reply-to tokens -- from 22 random characters of
// RabbitMQ's alphabet.
#pragma once

#include <random>
#include <string>

namespace weftd {

inline std::string random_name_suffix() {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s(22, ' ');
  for (char& c : s) c = kChars[rng() % 64];
  return s;
}

}  // namespace weftd
