// codec_test.cpp: the generated AMQP 0-9-1 codec, field tables and framing, checked
// against byte vectors written by hand from the spec (amqp0-9-1.pdf, section 4.2, and
// RabbitMQ's errata for field value types), and against malformed input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "weft/amqp/frame.h"
#include "weft/amqp/spec.h"
#include "weft/amqp/types.h"

using namespace weft::amqp;
using namespace std::string_literals;

namespace {

std::string encode(const Method& m) {
  std::string out;
  Writer w(out);
  encode_method(m, w);
  return out;
}

Method decode(const std::string& bytes) {
  Reader r(bytes);
  bool unknown = false;
  auto m = decode_method(r, &unknown);
  EXPECT_TRUE(m.has_value()) << r.error();
  EXPECT_TRUE(r.at_end());
  return m ? *m : Method{};
}

std::string frame(std::uint8_t type, std::uint16_t channel, const std::string& payload,
                  char end = '\xCE') {
  std::string f;
  f += static_cast<char>(type);
  f += static_cast<char>(channel >> 8);
  f += static_cast<char>(channel);
  const auto n = static_cast<std::uint32_t>(payload.size());
  f += static_cast<char>(n >> 24);
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  return f + payload + end;
}

}  // namespace

// ---- methods --------------------------------------------------------------------------

TEST(AmqpCodec, ConnectionTuneMatchesTheSpecBytes) {
  ConnectionTune t;
  t.channel_max = 2047;
  t.frame_max = 131072;
  t.heartbeat = 60;
  const std::string expect =
      "\x00\x0A\x00\x1E"s  // class 10, method 30
      "\x07\xFF"s          // channel-max
      "\x00\x02\x00\x00"s  // frame-max
      "\x00\x3C"s;         // heartbeat
  EXPECT_EQ(encode(t), expect);
  EXPECT_EQ(std::get<ConnectionTune>(decode(expect)), t);
  EXPECT_TRUE(ConnectionTune::kSynchronous);
  EXPECT_FALSE(ConnectionTune::kHasContent);
}

TEST(AmqpCodec, BitsShareOneOctetLowBitFirst) {
  QueueDeclare q;
  q.queue = "jobs";
  q.durable = true;      // bit 1
  q.auto_delete = true;  // bit 3
  q.no_wait = false;
  q.arguments.set("x-max-length", std::int32_t{10});
  const std::string expect =
      "\x00\x32\x00\x0A"s  // class 50, method 10
      "\x00\x00"s          // reserved-1
      "\x04jobs"s          // queue
      "\x0A"s              // passive 0, durable 1, excl 0, auto-delete 1
      "\x00\x00\x00\x12"s  // table: 18 bytes
      "\x0Cx-max-length"s
      "I\x00\x00\x00\x0A"s;
  EXPECT_EQ(encode(q), expect);
  EXPECT_EQ(std::get<QueueDeclare>(decode(expect)), q);
}

TEST(AmqpCodec, BasicPublishAndItsFlags) {
  BasicPublish p;
  p.exchange = "ex";
  p.routing_key = "rk";
  p.mandatory = true;
  const std::string expect =
      "\x00\x3C\x00\x28\x00\x00\x02"
      "ex"
      "\x02"
      "rk"
      "\x01"s;
  EXPECT_EQ(encode(p), expect);
  EXPECT_EQ(std::get<BasicPublish>(decode(expect)), p);
  EXPECT_TRUE(BasicPublish::kHasContent);
  EXPECT_FALSE(BasicPublish::kSynchronous);
  const MethodInfo* info = method_info(60, 40);
  ASSERT_NE(info, nullptr);
  EXPECT_STREQ(info->name, "basic.publish");
  EXPECT_EQ(method_info(60, 99), nullptr);
}

TEST(AmqpCodec, TheOverlayAddsRabbitMQsExtensions) {
  ConnectionBlocked b;
  b.reason = "low on memory";
  EXPECT_EQ(encode(b), "\x00\x0A\x00\x3C\x0Dlow on memory"s);
  EXPECT_EQ(encode(ConnectionUnblocked{}), "\x00\x0A\x00\x3D"s);
  ConnectionUpdateSecret u;
  u.new_secret = "tok";
  u.reason = "r";
  EXPECT_EQ(encode(u), "\x00\x0A\x00\x46\x00\x00\x00\x03tok\x01r"s);
  EXPECT_EQ(encode(ConnectionUpdateSecretOk{}), "\x00\x0A\x00\x47"s);
  EXPECT_EQ(static_cast<int>(ReplyCode::no_route), 312);
  EXPECT_FALSE(is_hard_error(ReplyCode::no_route));
  // RabbitMQ's extensions that the Debian spec does have.
  EXPECT_NE(method_info(60, 120), nullptr);  // basic.nack
  EXPECT_NE(method_info(85, 10), nullptr);   // confirm.select
  EXPECT_NE(method_info(40, 30), nullptr);   // exchange.bind
}

TEST(AmqpCodec, ReplyCodesKnowTheirClass) {
  EXPECT_TRUE(is_hard_error(ReplyCode::frame_error));
  EXPECT_TRUE(is_hard_error(ReplyCode::unexpected_frame));
  EXPECT_TRUE(is_hard_error(ReplyCode::not_implemented));
  EXPECT_FALSE(is_hard_error(ReplyCode::not_found));
  EXPECT_FALSE(is_hard_error(ReplyCode::precondition_failed));
  EXPECT_FALSE(is_hard_error(ReplyCode::resource_locked));
  EXPECT_STREQ(reply_code_name(ReplyCode::precondition_failed), "PRECONDITION_FAILED");
}

namespace {
template <std::size_t... I>
void round_trip_every_method(std::index_sequence<I...>) {
  // Default-constructed methods of every kind: encode, decode, compare.
  auto one = [](Method m) {
    const MethodInfo& info = method_info(m);
    EXPECT_EQ(method_info(info.class_id, info.method_id), &info);
    EXPECT_EQ(decode(encode(m)), m) << info.name;
    EXPECT_EQ(encode(m).size(), encoded_size(m)) << info.name;
  };
  (one(Method(std::in_place_index<I>)), ...);
}
}  // namespace

TEST(AmqpCodec, EveryMethodRoundTrips) {
  round_trip_every_method(std::make_index_sequence<std::variant_size_v<Method>>{});
  EXPECT_GE(std::variant_size_v<Method>, 50u);
}

TEST(AmqpCodec, EncodedSizeCountsStringsTablesAndBits) {
  QueueDeclare q;
  q.queue = "orders";
  q.durable = q.exclusive = q.no_wait = true;
  q.arguments = FieldTable{{"x-max-length", std::int32_t{10}}, {"x-args", FieldTable{{"k", "v"}}}};
  EXPECT_EQ(encode(q).size(), encoded_size(Method(q)));
  EXPECT_EQ(decode(encode(q)), Method(q));
  BasicPublish p;
  p.routing_key = std::string(256, 'k');  // one over a shortstr's limit
  EXPECT_THROW(encoded_size(Method(p)), CodecError);
}

TEST(AmqpCodec, DecodingIntoAMethodLeavesNothingOfTheOneBefore) {
  BasicPublish a;
  a.exchange = "a-rather-long-exchange-name-for-the-heap";
  a.routing_key = "key.a";
  a.mandatory = true;
  BasicPublish b;
  b.routing_key = "b";
  Method m;
  bool unknown = false;
  for (const Method& want : {Method(a), Method(b), Method(BasicAck{7, true}), Method(a)}) {
    const std::string bytes = encode(want);
    Reader r(bytes);
    ASSERT_TRUE(decode_method_into(r, m, &unknown));
    EXPECT_EQ(m, want) << method_info(want).name;
  }
  // A truncated frame fails (and says so) even over a method of the same kind.
  const std::string cut = encode(a).substr(0, 10);
  Reader r(cut);
  EXPECT_FALSE(decode_method_into(r, m, &unknown));
  EXPECT_FALSE(unknown);
}

TEST(AmqpCodec, MalformedArgumentsAreSyntaxErrorsAndUnknownIdsAreKnown) {
  std::string truncated =
      "\x00\x3C\x00\x28\x00\x00\x05"
      "ab"s;  // exchange claims 5 bytes
  Reader r(truncated);
  bool unknown = true;
  EXPECT_FALSE(decode_method(r, &unknown));
  EXPECT_FALSE(unknown);
  EXPECT_FALSE(r.ok());
  std::string bogus = "\x00\x3C\x00\x63"s;
  Reader r2(bogus);
  EXPECT_FALSE(decode_method(r2, &unknown));
  EXPECT_TRUE(unknown);
}

TEST(AmqpCodec, DomainChecks) {
  ExchangeDeclare e;
  e.exchange = std::string(128, 'a');
  auto err = e.check();
  ASSERT_TRUE(err);
  EXPECT_STREQ(err->field, "exchange");
  e.exchange = "bad name!";
  ASSERT_TRUE(e.check());
  e.exchange = "amq.gen-Ab_1:x.y";
  EXPECT_FALSE(e.check());
  ConnectionClose c;  // reply-code and reply-text must not be null
  EXPECT_TRUE(check_method(c));
  c.reply_code = 200;
  c.reply_text = "bye";
  EXPECT_FALSE(check_method(c));
  std::string out;  // a shortstr cannot exceed 255 bytes
  Writer w(out);
  EXPECT_THROW(w.shortstr(std::string(256, 'x')), CodecError);
}

// ---- field tables ---------------------------------------------------------------------

TEST(AmqpTable, ReferenceBytesForEachType) {
  struct Case {
    FieldValue v;
    std::string bytes;
  } cases[] = {
      {true, "t\x01"s},
      {std::int8_t{-2}, "b\xFE"s},
      {std::uint8_t{200}, "B\xC8"s},
      {std::int16_t{-3}, "s\xFF\xFD"s},
      {std::uint16_t{513}, "u\x02\x01"s},
      {std::int32_t{-1}, "I\xFF\xFF\xFF\xFF"s},
      {std::uint32_t{0x01020304}, "i\x01\x02\x03\x04"s},
      {std::int64_t{-2}, "l\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFE"s},
      {1.5f, "f\x3F\xC0\x00\x00"s},
      {-2.0, "d\xC0\x00\x00\x00\x00\x00\x00\x00"s},
      {Decimal{2, 12345}, "D\x02\x00\x00\x30\x39"s},
      {"hi", "S\x00\x00\x00\x02hi"s},
      {FieldArray{std::int32_t{1}, "a"},
       "A\x00\x00\x00\x0BI\x00\x00\x00\x01S\x00\x00\x00\x01"
       "a"s},
      {Timestamp{0x5F5E1000}, "T\x00\x00\x00\x00\x5F\x5E\x10\x00"s},
      {FieldTable{{"k", true}}, "F\x00\x00\x00\x04\x01kt\x01"s},
      {Void{}, "V"s},
      {ByteArray{"\x00\x01"s}, "x\x00\x00\x00\x02\x00\x01"s},
  };
  for (const Case& c : cases) {
    std::string out;
    Writer w(out);
    w.value(c.v);
    EXPECT_EQ(out, c.bytes) << "type " << c.v.type_letter();
    Reader r(c.bytes);
    FieldValue back = r.value();
    EXPECT_TRUE(r.ok() && r.at_end()) << c.v.type_letter();
    EXPECT_EQ(back, c.v) << c.v.type_letter();
  }
}

TEST(AmqpTable, NestedTablesRoundTripInOrderWithDuplicates) {
  FieldTable caps{{"publisher_confirms", true}, {"consumer_cancel_notify", true}};
  FieldTable t;
  t.push_back("capabilities", caps);
  t.push_back("product", "weft");
  t.push_back("product", "dup");  // kept, in order, as read
  t.push_back("list", FieldArray{FieldTable{{"x", std::int64_t{1}}}, Void{}, 2.5});
  std::string out;
  Writer w(out);
  w.table(t);
  Reader r(out);
  FieldTable back = r.table();
  ASSERT_TRUE(r.ok() && r.at_end());
  EXPECT_EQ(back, t);
  EXPECT_EQ(*back.find("product")->get<std::string>(), "weft");
  std::int64_t n = 0;
  EXPECT_TRUE(FieldValue(std::uint16_t{7}).as_int(&n));
  EXPECT_EQ(n, 7);
  EXPECT_FALSE(FieldValue("7").as_int(&n));
}

TEST(AmqpTable, HostileTablesFailCleanly) {
  // A value that claims to run past its table's end.
  std::string over = "\x00\x00\x00\x06\x01kS\x00\x00\x00\xFF"s;
  Reader r(over);
  r.table();
  EXPECT_FALSE(r.ok());
  // An unknown type letter.
  std::string unknown = "\x00\x00\x00\x03\x01kZ"s;
  Reader r2(unknown);
  r2.table();
  EXPECT_FALSE(r2.ok());
  EXPECT_STREQ(r2.error(), "unknown field value type");
  // Nesting a thousand deep stops at the depth limit instead of recursing on.
  auto be32 = [](std::size_t n) {
    return std::string{char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  };
  std::string deep = "A"s + be32(0);
  for (int i = 0; i < 1000; i++) deep = "A" + be32(deep.size()) + deep;
  std::string entry = "\x01k" + deep;
  std::string t = be32(entry.size()) + entry;
  Reader r3(t);
  r3.table();
  EXPECT_FALSE(r3.ok());
}

// ---- content properties ---------------------------------------------------------------

TEST(AmqpProperties, FlagBitsAndOrder) {
  BasicProperties p;
  p.content_type = "text/plain";
  p.delivery_mode = 2;
  EXPECT_EQ(p.flags(), 0x9000);  // bits 15 and 12
  std::string out;
  Writer w(out);
  p.encode(w);
  EXPECT_EQ(out, "\x90\x00\x0Atext/plain\x02"s);
  Reader r(out);
  EXPECT_EQ(BasicProperties::decode(r), p);
  BasicProperties all;
  all.content_type = "a", all.content_encoding = "b", all.headers = FieldTable{{"h", 1}},
  all.delivery_mode = 1, all.priority = 9, all.correlation_id = "c", all.reply_to = "d",
  all.expiration = "60000", all.message_id = "e", all.timestamp = 1700000000, all.type = "f",
  all.user_id = "g", all.app_id = "i", all.reserved = "";
  EXPECT_EQ(all.flags(), 0xFFFC);
  std::string bytes;
  Writer w2(bytes);
  all.encode(w2);
  Reader r2(bytes);
  EXPECT_EQ(BasicProperties::decode(r2), all);
  EXPECT_TRUE(r2.at_end());
}

// ---- framing --------------------------------------------------------------------------

TEST(AmqpProperties, DecodingIntoPropertiesClearsTheAbsentOnes) {
  BasicProperties all;
  all.content_type = "application/json";
  all.headers = FieldTable{{"h", std::int32_t{1}}};
  all.delivery_mode = 2;
  all.message_id = "3f1c2a9e-7b4d-4e0a-9c55-0d2f6a1b8e34";
  all.timestamp = 1700000000;
  BasicProperties few;
  few.message_id = "m";
  BasicProperties p;
  for (const BasicProperties& want : {all, few, BasicProperties{}, all}) {
    std::string bytes;
    Writer w(bytes);
    want.encode(w);
    EXPECT_EQ(bytes.size(), want.encoded_size());
    Reader r(bytes);
    p.decode_into(r);
    EXPECT_TRUE(r.ok() && r.at_end());
    EXPECT_EQ(p, want);
  }
}

TEST(AmqpCodec, AssigningBytesOverAStringOfEveryLengthLeavesExactlyThem) {
  // assign_bytes() copies over a string of the same length in pieces chosen by length
  // (under 4, 4-7, 8-15, 16 and over), and assigns otherwise.
  std::string src;
  for (int i = 0; i < 100; i++) src += static_cast<char>('0' + i % 75);
  for (std::size_t from = 0; from <= 80; from++) {
    for (std::size_t to = 0; to <= 80; to++) {
      std::string s(from, '-');
      const std::string want = src.substr(from % 7, to);
      assign_bytes(s, want);
      EXPECT_EQ(s, want) << from << " -> " << to;
    }
  }
}

TEST(AmqpFrames, AOneFrameBodyIsBorrowedAndALongerOneOwned) {
  FrameEncoder enc(4096);
  enc.content(1, BasicPublish{}, BasicProperties{}, "one frame");
  enc.content(1, BasicPublish{}, BasicProperties{}, std::string(5000, 'z'));  // two frames
  FrameDecoder dec(4096);
  dec.append(enc.buffer());
  ContentAssembler a;
  Frame f;
  ProtocolError err;
  std::vector<Body> bodies;
  while (dec.next(&f, &err) == FrameDecoder::Status::frame) {
    if (a.feed(f, &err) != ContentAssembler::Status::complete) continue;
    Body& b = a.command().content.body;
    EXPECT_EQ(b.borrowed(), bodies.empty());
    bodies.push_back(b);
    bodies.back().own();
  }
  ASSERT_EQ(bodies.size(), 2u);
  // The decoder's buffer is written over by the next read; owned bodies keep their bytes.
  auto space = dec.prepare(enc.buffer().size());
  std::fill(space.begin(), space.end(), 'X');
  EXPECT_EQ(bodies[0], "one frame");
  EXPECT_FALSE(bodies[0].borrowed());
  EXPECT_EQ(bodies[1].take(), std::string(5000, 'z'));
  EXPECT_TRUE(bodies[1].empty());
}

TEST(AmqpFrames, AMethodThatCannotBeEncodedLeavesTheBufferAsItWas) {
  FrameEncoder enc;
  enc.method(1, BasicAck{1, false});
  const std::string before = enc.buffer();
  BasicPublish p;
  p.exchange = std::string(300, 'e');
  EXPECT_THROW(enc.content(1, p, BasicProperties{}, "body"), CodecError);
  BasicProperties props;
  props.app_id = std::string(256, 'a');
  EXPECT_THROW(enc.content(1, BasicPublish{}, props, "body"), CodecError);
  EXPECT_EQ(enc.buffer(), before);
}

TEST(AmqpFrames, DecodesAByteAtATime) {
  FrameEncoder enc;
  BasicPublish p;
  p.routing_key = "q";
  BasicProperties props;
  props.delivery_mode = 2;
  std::string body(300000, 'b');  // three body frames at frame_max 131072
  enc.content(5, p, props, body);
  enc.heartbeat();
  const std::string wire = enc.buffer();

  FrameDecoder dec;
  ContentAssembler asm5;
  int commands = 0, heartbeats = 0, frames = 0;
  for (char ch : wire) {
    dec.append(std::string_view(&ch, 1));
    Frame f;
    ProtocolError err;
    for (;;) {
      auto st = dec.next(&f, &err);
      ASSERT_NE(st, FrameDecoder::Status::error) << err.text;
      if (st == FrameDecoder::Status::need_more) break;
      frames++;
      if (f.type == FrameType::heartbeat) {
        heartbeats++;
        continue;
      }
      EXPECT_EQ(f.channel, 5);
      auto s = asm5.feed(f, &err);
      ASSERT_NE(s, ContentAssembler::Status::error) << err.text;
      if (s == ContentAssembler::Status::complete) {
        commands++;
        EXPECT_EQ(std::get<BasicPublish>(asm5.command().method), p);
        EXPECT_EQ(asm5.command().content.properties, props);
        EXPECT_EQ(asm5.command().content.body, body);
      }
    }
  }
  EXPECT_EQ(frames, 1 + 1 + 3 + 1);
  EXPECT_EQ(commands, 1);
  EXPECT_EQ(heartbeats, 1);
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(AmqpFrames, PropertiesKeptAsWireBytesComeThroughByteForByte) {
  BasicPublish p;
  p.exchange = "amq.topic";
  p.routing_key = "a.b";
  BasicProperties props;
  props.content_type = "application/json";
  props.headers = FieldTable{{"x-trace", "t-1"}, {"n", std::int32_t{7}}};
  props.delivery_mode = 2;
  props.message_id = "3f1c2a9e-7b4d-4e0a-9c55-0d2f6a1b8e34";
  std::string props_wire;
  Writer w(props_wire);
  props.encode(w);
  const std::string body(5000, 'q');  // two body frames at frame_max 4096
  FrameEncoder enc(4096);
  enc.content(3, p, props, body);
  enc.content(3, p, BasicProperties{}, "");  // no properties, no body
  // A byte at a time: every append may move the decoder's buffer, so bytes the
  // assembler kept from the header frame must be its own.
  FrameDecoder dec(4096);
  ContentAssembler a;
  a.keep_properties_as_wire(true);
  std::vector<std::string> wires;
  for (char ch : enc.buffer()) {
    dec.append(std::string_view(&ch, 1));
    Frame f;
    ProtocolError err;
    while (dec.next(&f, &err) == FrameDecoder::Status::frame) {
      auto s = a.feed(f, &err);
      ASSERT_NE(s, ContentAssembler::Status::error) << err.text;
      if (s != ContentAssembler::Status::complete) continue;
      EXPECT_EQ(a.command().content.properties, BasicProperties{});  // not decoded
      wires.push_back(std::string(a.command().content.properties_wire));
      EXPECT_EQ(a.command().content.body, wires.size() == 1 ? body : "");
    }
  }
  ASSERT_EQ(wires.size(), 2u);
  EXPECT_EQ(wires[0], props_wire);
  EXPECT_EQ(wires[1], "\x00\x00"s);  // flags only
  // Decoded when someone needs them, they are the publisher's properties.
  Reader r(wires[0]);
  EXPECT_EQ(BasicProperties::decode(r), props);
  // Passed on as they came, they encode the frames content() encodes.
  FrameEncoder again(4096);
  again.content_wire(3, p, wires[0], body);
  again.content_wire(3, p, wires[1], "");
  EXPECT_EQ(again.buffer(), enc.buffer());
}

namespace {
// first_error() feeds `wire` to a decoder and one assembler and returns the first error.
ProtocolError first_error(const std::string& wire, std::uint32_t frame_max = kDefaultFrameMax,
                          bool keep_properties_as_wire = false) {
  FrameDecoder dec(frame_max);
  ContentAssembler a;
  a.keep_properties_as_wire(keep_properties_as_wire);
  dec.append(wire);
  Frame f;
  ProtocolError err;
  for (;;) {
    auto st = dec.next(&f, &err);
    if (st == FrameDecoder::Status::error) return err;
    if (st == FrameDecoder::Status::need_more) return ProtocolError{};
    if (f.type == FrameType::heartbeat) continue;
    if (a.feed(f, &err) == ContentAssembler::Status::error) return err;
  }
}

std::string publish_frame() { return frame(1, 1, encode(BasicPublish{})); }
std::string header_frame(std::uint64_t size) {
  std::string h = "\x00\x3C\x00\x00"s;
  for (int i = 7; i >= 0; i--) h += static_cast<char>(size >> (8 * i));
  return frame(2, 1, h + "\x00\x00"s);
}
}  // namespace

TEST(AmqpFrames, MalformedInputGetsTheRightReplyCode) {
  // 501 FRAME_ERROR: a bad frame end, an oversized frame, an unknown type, a heartbeat
  // on a channel, a body longer than its header said.
  EXPECT_EQ(first_error(frame(1, 1, encode(BasicQos{}), 'X')).code, ReplyCode::frame_error);
  EXPECT_EQ(first_error(frame(3, 1, std::string(5000, 'x')), 4096).code, ReplyCode::frame_error);
  EXPECT_EQ(first_error(frame(7, 0, "")).code, ReplyCode::frame_error);
  EXPECT_EQ(first_error(frame(8, 3, "")).code, ReplyCode::frame_error);
  EXPECT_EQ(first_error(publish_frame() + header_frame(3) + frame(3, 1, "abcd")).code,
            ReplyCode::frame_error);
  // 502 SYNTAX_ERROR: arguments that do not decode; a header that does not.
  EXPECT_EQ(first_error(frame(1, 1, "\x00\x3C\x00\x28\x00"s)).code, ReplyCode::syntax_error);
  EXPECT_EQ(first_error(frame(1, 1, encode(BasicQos{}) + "junk")).code, ReplyCode::syntax_error);
  EXPECT_EQ(first_error(publish_frame() + frame(2, 1, "\x00\x3C"s)).code, ReplyCode::syntax_error);
  // 503 COMMAND_INVALID: a method the protocol does not have.
  auto e = first_error(frame(1, 1, "\x00\x3C\x00\x63"s));
  EXPECT_EQ(e.code, ReplyCode::command_invalid);
  EXPECT_EQ(e.channel, 1);
  // 505 UNEXPECTED_FRAME: content frames out of order.
  EXPECT_EQ(first_error(frame(3, 1, "body")).code, ReplyCode::unexpected_frame);
  EXPECT_EQ(first_error(header_frame(1)).code, ReplyCode::unexpected_frame);
  auto mid = first_error(publish_frame() + publish_frame());
  EXPECT_EQ(mid.code, ReplyCode::unexpected_frame);
  EXPECT_EQ(mid.class_id, 60);
  EXPECT_EQ(mid.method_id, 40);
  EXPECT_EQ(first_error(publish_frame() + header_frame(2) + publish_frame()).code,
            ReplyCode::unexpected_frame);
  // Every hard error here closes the connection.
  EXPECT_TRUE(first_error(frame(7, 0, "")).hard());
  // A truncated stream is not an error: the decoder waits for more.
  std::string partial = publish_frame();
  partial.pop_back();
  EXPECT_EQ(first_error(partial).code, ReplyCode::reply_success);
}

TEST(AmqpFrames, PropertiesKeptAsWireBytesAreCheckedAsDecodingChecksThem) {
  // Each malformed property list is refused alike whether the properties are decoded
  // or kept as wire bytes: 502 SYNTAX_ERROR, the same text, naming basic.publish.
  auto header = [](const std::string& props) {
    return frame(2, 1, "\x00\x3C\x00\x00"s + std::string(7, '\0') + "\x01"s + props);
  };
  const std::string bad[] = {
      "\x00\x01"s,                            // flag continuation
      "\x80\x00\x05text"s,                    // content-type shorter than its length
      "\x20\x00\x00\x00\x00\x07\x01h?xxxx"s,  // headers: an unknown field type
      "\x10\x00"s,                            // delivery-mode missing
      "\x00\x40\x00\x00\x00\x00"s,            // timestamp truncated
      "\x90\x00\x01"
      "a\x02\x00"s,  // a byte after the last property
  };
  for (const std::string& props : bad) {
    const std::string wire = publish_frame() + header(props);
    const ProtocolError decoded = first_error(wire, kDefaultFrameMax, false);
    const ProtocolError kept = first_error(wire, kDefaultFrameMax, true);
    EXPECT_EQ(decoded.code, ReplyCode::syntax_error) << decoded.text;
    EXPECT_EQ(kept.code, decoded.code) << kept.text;
    EXPECT_EQ(kept.text, decoded.text);
    EXPECT_EQ(kept.class_id, 60);
    EXPECT_EQ(kept.method_id, 40);
  }
  // And a good one passes both ways.
  EXPECT_EQ(first_error(publish_frame() + header("\x90\x00\x01"
                                                 "a\x02"s),
                        kDefaultFrameMax, true)
                .code,
            ReplyCode::reply_success);
}

TEST(AmqpFrames, EmptyBodiesCompleteAtTheHeader) {
  std::string wire = publish_frame() + header_frame(0);
  FrameDecoder dec;
  ContentAssembler a;
  dec.append(wire);
  Frame f;
  ProtocolError err;
  ASSERT_EQ(dec.next(&f, &err), FrameDecoder::Status::frame);
  EXPECT_EQ(a.feed(f, &err), ContentAssembler::Status::need_more);
  EXPECT_TRUE(a.in_content());
  ASSERT_EQ(dec.next(&f, &err), FrameDecoder::Status::frame);
  EXPECT_EQ(a.feed(f, &err), ContentAssembler::Status::complete);
  EXPECT_EQ(a.command().content.body, "");
  EXPECT_FALSE(a.in_content());
}

TEST(AmqpFrames, TheEncoderCoalescesFramesAndSplitsBodiesAtFrameMax) {
  FrameEncoder enc(4096);
  for (int i = 0; i < 10; i++) enc.method(1, BasicAck{static_cast<std::uint64_t>(i), false});
  BasicPublish p;
  enc.content(1, p, BasicProperties{}, std::string(10000, 'z'));
  // One buffer holds every frame: 10 acks, the publish, its header, 3 body frames.
  FrameDecoder dec(4096);
  dec.append(enc.buffer());
  Frame f;
  ProtocolError err;
  int n = 0;
  std::size_t largest = 0;
  while (dec.next(&f, &err) == FrameDecoder::Status::frame) {
    n++;
    largest = std::max(largest, f.payload.size() + kFrameOverhead);
  }
  EXPECT_EQ(n, 15);
  EXPECT_EQ(largest, 4096u);
}

TEST(AmqpFrames, BodiesOverTheMaximumAreRefusedAtTheHeader) {
  FrameDecoder dec;
  ContentAssembler a;
  a.set_max_body_size(1000);
  dec.append(publish_frame() + header_frame(1001));
  Frame f;
  ProtocolError err;
  ASSERT_EQ(dec.next(&f, &err), FrameDecoder::Status::frame);
  EXPECT_EQ(a.feed(f, &err), ContentAssembler::Status::need_more);
  ASSERT_EQ(dec.next(&f, &err), FrameDecoder::Status::frame);
  EXPECT_EQ(a.feed(f, &err), ContentAssembler::Status::error);
  EXPECT_EQ(err.code, ReplyCode::precondition_failed);
  EXPECT_FALSE(err.hard());
  EXPECT_EQ(err.class_id, 60);
}
