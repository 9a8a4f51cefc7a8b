// amqp091/amqp_error.h: how a command fails, and the words RabbitMQ uses for it.
//
// A command handler throws AmqpException; the connection turns it into channel.close
// (a soft error: the channel goes) or connection.close (a hard one,
// weft::amqp::is_hard_error), with the reply code and the text after RabbitMQ's
// "CODE_NAME - text" shape, so that clients which match on them keep working.
#pragma once

#include <string>

#include "core/vhost.h"
#include "weft/amqp/spec.h"

namespace weftd {

struct AmqpException {
  weft::amqp::ReplyCode code;
  std::string text;
};

// fail() throws AmqpException{code, text}.
[[noreturn]] inline void fail(weft::amqp::ReplyCode code, std::string text) {
  throw AmqpException{code, std::move(text)};
}

// reply_text(): the text of a close as RabbitMQ writes it, "NOT_FOUND - no queue 'q'...".
inline std::string reply_text(weft::amqp::ReplyCode code, const std::string& text) {
  return std::string(weft::amqp::reply_code_name(code)) + " - " + text;
}

namespace text {

// quoted(): "queue 'q' in vhost '/'", RabbitMQ's way of naming a resource.
inline std::string quoted(const std::string& kind, const std::string& name, const VHost& vh) {
  return kind + " '" + name + "' in vhost '" + vh.name() + "'";
}
inline std::string no(const std::string& kind, const std::string& name, const VHost& vh) {
  return "no " + quoted(kind, name, vh);
}
inline std::string reserved_prefix(const std::string& kind, const std::string& name) {
  return kind + " name '" + name + "' contains reserved prefix 'amq.*'";
}
inline std::string inequivalent(const std::string& arg, const std::string& kind,
                                const std::string& name, const VHost& vh, const std::string& got,
                                const std::string& current) {
  return "inequivalent arg '" + arg + "' for " + quoted(kind, name, vh) + ": received '" + got +
         "' but current is '" + current + "'";
}
// yes(): a flag as RabbitMQ's texts write it.
inline const char* yes(bool b) { return b ? "true" : "false"; }
inline constexpr const char* kDefaultExchange = "operation not permitted on the default exchange";

}  // namespace text

}  // namespace weftd
