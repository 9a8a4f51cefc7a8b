// core/memory_monitor.h: the memory high watermark, as publishers meet it.
//
// RabbitMQ's vm_memory_high_watermark blocks every publishing connection while memory
// is above it. weftd counts the bytes of live messages (core/message.h accounts each in
// the registry's message_bytes gauge); alarm() compares that with the watermark. It is
// polled, not signalled, so that freeing a message costs an atomic subtraction only.
#pragma once

#include <cstdint>

#include "metrics/metrics.h"

namespace weftd {

class MemoryMonitor {
 public:
  MemoryMonitor(metrics::Registry& registry, std::uint64_t watermark)
      : bytes_(registry.message_bytes), watermark_(watermark) {
    registry.memory_high_watermark.store(watermark, std::memory_order_relaxed);
  }
  // alarm(): live messages hold more than the watermark. Any fiber.
  bool alarm() const { return metrics::over_watermark(bytes_.load(), watermark_); }
  std::uint64_t watermark() const { return watermark_; }
  // message_bytes(): the gauge a new message accounts itself in (Message::account()).
  metrics::SharedGauge& message_bytes() { return bytes_; }

 private:
  metrics::SharedGauge& bytes_;
  const std::uint64_t watermark_;
};

}  // namespace weftd
