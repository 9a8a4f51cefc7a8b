// core/queue_options.h: what a queue.declare fixes for a queue's life.
#pragma once

#include <cstdint>

#include "weft/amqp/types.h"

namespace weftd {

struct QueueOptions {
  bool durable = false, exclusive = false, auto_delete = false;
  std::uint64_t owner = 0;  // exclusive: the owning connection's id
  weft::amqp::FieldTable arguments;
};

}  // namespace weftd
