// fuzz_frames.cpp: bytes -> FrameDecoder (a small frame_max) -> a ContentAssembler per
// channel, as a server's connection reader drives them. It must never crash, hang or
// leak, whatever arrives; at the first error (decoder or assembler) it stops, as the
// server closes the connection or channel. Every complete command is re-encoded with
// FrameEncoder and read back by a fresh decoder and assembler: the round trip must give
// the same command. Half the channels keep the properties as wire bytes (weftd's way):
// those bytes must decode, and pass through unchanged.
//
// Input: one control octet, then the byte stream. The control octet picks how the stream
// is cut into reads (1..64 bytes at a time, or all at once), whether the reads go
// through prepare()/commit() or append(), and the frame_max (4096, the spec's minimum,
// or 512).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string_view>

#include "fuzz_check.h"

using namespace weft::amqp;

namespace {

void round_trip(const Command& c, std::uint16_t channel, std::uint32_t frame_max, bool wire) {
  const MethodInfo& info = method_info(c.method);
  FrameEncoder enc(frame_max);
  if (info.has_content) {
    FUZZ_CHECK(c.content.body.size() == c.content.body_size);
    if (wire) {
      // Kept as wire bytes, the properties were checked: they must decode, exactly.
      Reader r(c.content.properties_wire);
      BasicProperties::decode(r);
      FUZZ_CHECK(r.ok() && r.at_end());
      enc.content_wire(channel, c.method, c.content.properties_wire, c.content.body);
    } else {
      enc.content(channel, c.method, c.content.properties, c.content.body);
    }
  } else {
    enc.method(channel, c.method);
  }
  FrameDecoder dec(frame_max);
  dec.append(enc.buffer());
  ContentAssembler as;
  as.keep_properties_as_wire(wire);
  Frame f;
  ProtocolError err;
  for (;;) {
    const auto st = dec.next(&f, &err);
    FUZZ_CHECK(st == FrameDecoder::Status::frame);
    FUZZ_CHECK(f.channel == channel);
    FUZZ_CHECK(f.payload.size() + kFrameOverhead <= frame_max);
    const auto done = as.feed(f, &err);
    FUZZ_CHECK(done != ContentAssembler::Status::error);
    if (done == ContentAssembler::Status::complete) break;
  }
  FUZZ_CHECK(dec.buffered() == 0);
  const Command& back = as.command();
  if (fuzz::reflexive(c.method)) FUZZ_CHECK(back.method == c.method);
  FUZZ_CHECK(fuzz::encode(back.method) == fuzz::encode(c.method));
  if (info.has_content) {
    if (fuzz::reflexive(c.content.properties))
      FUZZ_CHECK(back.content.properties == c.content.properties);
    FUZZ_CHECK(back.content.properties_wire.view() == c.content.properties_wire.view());
    FUZZ_CHECK(back.content.body_size == c.content.body_size);
    FUZZ_CHECK(back.content.body.view() == c.content.body.view());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t ctl = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t chunk = (ctl & 0x3f) == 0x3f ? in.size() : (ctl & 0x3f) + 1u;
  const bool use_prepare = ctl & 0x40;
  const std::uint32_t frame_max = (ctl & 0x80) ? 512 : 4096;

  FrameDecoder dec(frame_max);
  std::map<std::uint16_t, ContentAssembler> channels;
  Frame f;
  ProtocolError err;
  while (!in.empty()) {
    const std::size_t n = std::min(chunk, in.size());
    if (use_prepare) {
      auto space = dec.prepare(n);
      FUZZ_CHECK(space.size() >= n);
      std::memcpy(space.data(), in.data(), n);
      dec.commit(n);
    } else {
      dec.append(in.substr(0, n));
    }
    in.remove_prefix(n);
    for (;;) {
      const auto st = dec.next(&f, &err);
      if (st == FrameDecoder::Status::need_more) break;
      if (st == FrameDecoder::Status::error) {
        FUZZ_CHECK(err.code == ReplyCode::frame_error && err.hard());
        // Sticky: the decoder says it again.
        ProtocolError again;
        FUZZ_CHECK(dec.next(&f, &again) == FrameDecoder::Status::error);
        FUZZ_CHECK(again.code == err.code && again.text == err.text);
        return 0;
      }
      FUZZ_CHECK(f.payload.size() + kFrameOverhead <= frame_max);
      if (f.type == FrameType::heartbeat) {
        FUZZ_CHECK(f.channel == 0);
        continue;
      }
      auto [it, fresh] = channels.try_emplace(f.channel);
      ContentAssembler& as = it->second;
      // Odd channels refuse bodies over 8 KiB at the header, as a server configured with
      // a maximum message size does; even ones take any size the header announces.
      // Channels 2, 3, 6, 7, ... keep properties as wire bytes, as weftd does.
      if (fresh && f.channel % 2 == 1) as.set_max_body_size(8192);
      if (fresh) as.keep_properties_as_wire(f.channel & 2);
      switch (as.feed(f, &err)) {
        case ContentAssembler::Status::need_more:
          FUZZ_CHECK(as.in_content());
          break;
        case ContentAssembler::Status::complete:
          FUZZ_CHECK(!as.in_content());
          round_trip(as.command(), f.channel, frame_max, f.channel & 2);
          break;
        case ContentAssembler::Status::error:
          FUZZ_CHECK(err.code != ReplyCode::reply_success);
          FUZZ_CHECK(err.channel == f.channel);
          FUZZ_CHECK(!as.in_content());
          return 0;
      }
    }
  }
  return 0;
}
