// amqp-codec-bench: the AMQP 0-9-1 codec's hot paths, with Google Benchmark.
//
//   amqp_decode_publish   a basic.publish as a server reads it: method frame, content
//                         header (content-type, delivery-mode 2, message-id, timestamp)
//                         and one 1 KiB body frame, lying in FrameDecoder's buffer as
//                         read() leaves them, taken through a ContentAssembler to a
//                         complete Command, the properties checked and kept as wire
//                         bytes (keep_properties_as_wire(), as weftd reads).
//                         Target: <= 50 ns.
//   amqp_decode_publish_properties
//                         the same with the properties decoded into BasicProperties,
//                         as a client reads a delivery.
//   amqp_encode_publish   the same three frames with FrameEncoder, its buffer reused.
//                         Target: <= 50 ns.
//   amqp_table_decode     Reader::table() on a 10-entry table of mixed types; reported
//                         per entry.
//
// Google Benchmark's flags work (--benchmark_filter=..., --benchmark_repetitions=...; with
// repetitions a "min" row is added: the fastest repetition). After its table the program
// prints one key=value line per benchmark, like weft-bench, from that min when there is
// one (CPU time, which a busy machine disturbs less than wall time):
//   bench=amqp_decode_publish impl=weft ns_per_op=... target_ns=50
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "weft/amqp/frame.h"
#include "weft/amqp/spec.h"
#include "weft/amqp/types.h"

using namespace weft::amqp;

namespace {

constexpr std::size_t kBodySize = 1024;
constexpr std::uint16_t kChannel = 1;

// With --benchmark_repetitions, the fastest repetition: on a shared machine others' work
// only ever adds time.
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

Method publish_method() {
  BasicPublish p;
  p.exchange = "amq.direct";
  p.routing_key = "orders.created";
  return p;
}

BasicProperties typical_properties() {
  BasicProperties p;
  p.content_type = "application/json";
  p.delivery_mode = 2;
  p.message_id = "3f1c2a9e-7b4d-4e0a-9c55-0d2f6a1b8e34";
  p.timestamp = 1700000000;
  return p;
}

// The three frames of one publish, as a client sends them.
std::string publish_wire() {
  FrameEncoder enc;
  enc.content(kChannel, publish_method(), typical_properties(), std::string(kBodySize, 'x'));
  return enc.buffer();
}

// The three frames are put in FrameDecoder's buffer once, as read() leaves them there
// (the copy is the kernel's, not the decoder's); decoding them leaves the buffer empty,
// so each iteration commits the same bytes again and decodes them afresh.
void decode_publish(benchmark::State& state, bool keep_properties_as_wire) {
  const std::string wire = publish_wire();
  FrameDecoder dec;
  ContentAssembler as;
  as.keep_properties_as_wire(keep_properties_as_wire);
  char* const at = dec.prepare(wire.size()).data();
  std::memcpy(at, wire.data(), wire.size());
  Frame f;
  ProtocolError err;
  for (auto _ : state) {
    if (dec.prepare(wire.size()).data() != at) {
      state.SkipWithError("the decoder's buffer moved");
      break;
    }
    dec.commit(wire.size());
    int complete = 0;
    while (dec.next(&f, &err) == FrameDecoder::Status::frame)
      complete += as.feed(f, &err) == ContentAssembler::Status::complete;
    const Command& c = as.command();
    if (complete != 1 || c.content.body.size() != kBodySize ||
        (keep_properties_as_wire ? c.content.properties_wire.empty()
                                 : !c.content.properties.message_id)) {
      state.SkipWithError("publish did not decode");
      break;
    }
    benchmark::DoNotOptimize(c.content.body.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}

void BM_DecodePublish(benchmark::State& state) { decode_publish(state, true); }
BENCHMARK(BM_DecodePublish)->Name("amqp_decode_publish")->ComputeStatistics("min", min_of);

void BM_DecodePublishProperties(benchmark::State& state) { decode_publish(state, false); }
BENCHMARK(BM_DecodePublishProperties)
    ->Name("amqp_decode_publish_properties")
    ->ComputeStatistics("min", min_of);

void BM_EncodePublish(benchmark::State& state) {
  const Method m = publish_method();
  const BasicProperties props = typical_properties();
  const std::string body(kBodySize, 'x');
  FrameEncoder enc;
  for (auto _ : state) {
    enc.clear();
    enc.content(kChannel, m, props, body);
    benchmark::DoNotOptimize(enc.buffer().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * enc.buffer().size()));
}
BENCHMARK(BM_EncodePublish)->Name("amqp_encode_publish")->ComputeStatistics("min", min_of);

constexpr int kTableEntries = 10;

std::string table_wire() {
  FieldTable t{
      {"x-message-ttl", std::int32_t{60000}},
      {"x-dead-letter-exchange", "orders.dlx"},
      {"x-max-length", std::int64_t{100000}},
      {"x-queue-type", "quorum"},
      {"durable", true},
      {"x-priority", std::int8_t{5}},
      {"ratio", 0.75},
      {"created", Timestamp{1700000000}},
      {"retries", std::int16_t{3}},
      {"owner", FieldTable{{"team", "billing"}}},
  };
  std::string out;
  Writer w(out);
  w.table(t);
  return out;
}

void BM_TableDecode(benchmark::State& state) {
  const std::string wire = table_wire();
  for (auto _ : state) {
    Reader r(wire);
    FieldTable t = r.table();
    if (!r.ok() || t.size() != kTableEntries) {
      state.SkipWithError("table did not decode");
      break;
    }
    benchmark::DoNotOptimize(t);
  }
  state.counters["ns_per_entry"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kTableEntries),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TableDecode)->Name("amqp_table_decode")->ComputeStatistics("min", min_of);

// Console output as usual, and the runs kept for the key=value lines.
class KeepingReporter : public benchmark::ConsoleReporter {
 public:
  explicit KeepingReporter(OutputOptions opts) : ConsoleReporter(opts) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      // With --benchmark_repetitions the fastest repetition stands for the benchmark.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "min") continue;
      const std::string name = r.run_name.function_name;
      if (r.run_type == Run::RT_Iteration && kept_.count(name) && kept_[name].min) continue;
      kept_[name] =
          Kept{r.GetAdjustedCPUTime(), r.run_type == Run::RT_Aggregate,
               r.counters.count("ns_per_entry") ? double(r.counters.at("ns_per_entry")) : 0.0};
    }
  }
  void print_key_values() const {
    for (const auto& [name, k] : kept_) {
      if (name == "amqp_table_decode")
        std::printf("bench=%s impl=weft entries=%d ns_per_op=%.1f ns_per_entry=%.2f\n",
                    name.c_str(), kTableEntries, k.ns, k.ns_per_entry * 1e9);
      else
        std::printf("bench=%s impl=weft body_bytes=%zu ns_per_op=%.1f target_ns=50\n", name.c_str(),
                    kBodySize, k.ns);
    }
  }

 private:
  struct Kept {
    double ns = 0;
    bool min = false;         // the minimum over repetitions
    double ns_per_entry = 0;  // seconds per entry: the counter is an inverted rate
  };
  std::map<std::string, Kept> kept_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // In colour only on a terminal, so that the key=value lines stay greppable.
  KeepingReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  std::fflush(stdout);
  reporter.print_key_values();
  return 0;
}
