// make_corpus.cpp: writes the fuzzers' seed corpora (corpus/<target>/) with the codec
// itself -- a few valid inputs each. The seeds are committed; rerun this (run.sh
// --make-corpus) only to change them.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "weft/amqp/frame.h"
#include "weft/amqp/spec.h"
#include "weft/amqp/types.h"

using namespace weft::amqp;

namespace {

std::filesystem::path g_root;

void put(const char* target, const char* name, const std::string& bytes) {
  const auto dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string method_bytes(const Method& m) {
  std::string out;
  Writer w(out);
  encode_method(m, w);
  return out;
}

FieldTable mixed_table() {
  FieldTable nested{{"n", std::int32_t{1}}};
  return FieldTable{
      {"bool", true},
      {"i8", std::int8_t{-5}},
      {"u8", std::uint8_t{200}},
      {"i16", std::int16_t{-300}},
      {"u16", std::uint16_t{60000}},
      {"i32", std::int32_t{-70000}},
      {"u32", std::uint32_t{4000000000u}},
      {"i64", std::int64_t{-1} << 40},
      {"f", 1.5f},
      {"d", -2.25},
      {"dec", Decimal{2, 12345}},
      {"str", std::string("hello")},
      {"arr", FieldArray{std::int32_t{1}, std::string("two"), FieldArray{}}},
      {"ts", Timestamp{1700000000}},
      {"tbl", nested},
      {"void", Void{}},
      {"bytes", ByteArray{std::string("\x00\xff", 2)}},
  };
}

FieldTable client_properties() {
  return FieldTable{
      {"product", "weft"},
      {"version", "0.1.0"},
      {"capabilities",
       FieldTable{
           {"publisher_confirms", true}, {"consumer_cancel_notify", true}, {"basic.nack", true}}},
  };
}

BasicProperties typical_properties() {
  BasicProperties p;
  p.content_type = "application/json";
  p.delivery_mode = 2;
  p.message_id = "msg-0001";
  p.timestamp = 1700000000;
  return p;
}

void table_seeds() {
  auto table = [](const FieldTable& t) {
    std::string out;
    Writer w(out);
    w.table(t);
    return out;
  };
  put("fuzz_table", "empty", table({}));
  put("fuzz_table", "mixed", table(mixed_table()));
  put("fuzz_table", "client_properties", table(client_properties()));
  put("fuzz_table", "queue_arguments",
      table({{"x-message-ttl", std::int32_t{60000}},
             {"x-dead-letter-exchange", "dlx"},
             {"x-max-length", std::int64_t{1000}},
             {"x-queue-type", "quorum"}}));
}

void method_seeds() {
  ConnectionStart start;
  start.version_major = 0;
  start.version_minor = 9;
  start.server_properties = client_properties();
  start.mechanisms = "PLAIN AMQPLAIN";
  start.locales = "en_US";
  put("fuzz_method", "connection_start", method_bytes(start));

  ConnectionTune tune;
  tune.channel_max = 2047;
  tune.frame_max = 131072;
  tune.heartbeat = 60;
  put("fuzz_method", "connection_tune", method_bytes(tune));

  QueueDeclare qd;
  qd.queue = "jobs";
  qd.durable = true;
  qd.arguments = mixed_table();
  put("fuzz_method", "queue_declare", method_bytes(qd));

  BasicPublish pub;
  pub.exchange = "amq.direct";
  pub.routing_key = "jobs";
  pub.mandatory = true;
  put("fuzz_method", "basic_publish", method_bytes(pub));

  BasicDeliver del;
  del.consumer_tag = "ctag-1";
  del.delivery_tag = 42;
  del.redelivered = true;
  del.exchange = "amq.direct";
  del.routing_key = "jobs";
  put("fuzz_method", "basic_deliver", method_bytes(del));

  ConnectionClose close;
  close.reply_code = 320;
  close.reply_text = "CONNECTION_FORCED - shutdown";
  put("fuzz_method", "connection_close", method_bytes(close));
}

void frame_seeds() {
  // A client's opening after the protocol header, then a publish split over two body
  // frames by frame_max 512, and a heartbeat.
  FrameEncoder enc(512);
  ConnectionStartOk ok;
  ok.client_properties = client_properties();
  ok.mechanism = "PLAIN";
  ok.response = std::string("\0guest\0guest", 12);
  ok.locale = "en_US";
  enc.method(0, ok);
  ConnectionTuneOk tune;
  tune.channel_max = 2047;
  tune.frame_max = 512;
  tune.heartbeat = 60;
  enc.method(0, tune);
  ConnectionOpen open;
  open.virtual_host = "/";
  enc.method(0, open);
  enc.method(1, ChannelOpen{});
  BasicPublish pub;
  pub.exchange = "amq.direct";
  pub.routing_key = "jobs";
  enc.content(1, pub, typical_properties(), std::string(700, 'x'));
  enc.heartbeat();
  put("fuzz_frames", "session_512", '\xbf' + enc.buffer());  // all at once, frame_max 512

  // Two channels interleaved, read 7 bytes at a time, frame_max 4096.
  FrameEncoder a(4096), b(4096);
  BasicProperties headers = typical_properties();
  headers.headers = mixed_table();
  a.content(1, pub, headers, "hello");
  b.content(2, pub, {}, "");
  b.method(2, BasicAck{7, true});
  put("fuzz_frames", "two_channels_7", '\x06' + a.buffer() + b.buffer());

  // The same publish on channel 6, whose assembler keeps the properties as wire bytes:
  // its headers table is checked by skip(), not decoded into the command.
  FrameEncoder w(4096);
  w.content(6, pub, headers, "hello");
  put("fuzz_frames", "headers_as_wire", '\x3f' + w.buffer());

  // A server's deliver with a body of 3000 bytes, 16 bytes at a time through
  // prepare()/commit().
  FrameEncoder d(4096);
  BasicDeliver del;
  del.consumer_tag = "ctag-1";
  del.delivery_tag = 1;
  del.exchange = "";
  del.routing_key = "jobs";
  d.content(3, del, typical_properties(), std::string(3000, 'y'));
  put("fuzz_frames", "deliver_prepare_16", '\x4f' + d.buffer());

  // Queue declare with arguments, and a close.
  FrameEncoder q(4096);
  QueueDeclare qd;
  qd.queue = "jobs";
  qd.arguments = FieldTable{{"x-message-ttl", std::int32_t{60000}}};
  q.method(1, qd);
  q.method(1, ChannelClose{200, "bye", 0, 0});
  put("fuzz_frames", "declare_close", '\x3f' + q.buffer());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  table_seeds();
  method_seeds();
  frame_seeds();
  return 0;
}
