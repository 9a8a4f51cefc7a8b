// frame.cpp: frame decoding, content assembly and frame encoding (weft/amqp/frame.h).
#include "weft/amqp/frame.h"

#include <cstring>

namespace weft::amqp {

namespace {
constexpr std::uint8_t kFrameEndOctet = 0xCE;
// The most body bytes reserved up front: a header may claim any size, honest or not.
constexpr std::uint64_t kMaxReserve = 1 << 20;
}  // namespace

// ---- FrameDecoder --------------------------------------------------------------------

std::span<char> FrameDecoder::prepare(std::size_t min) {
  if (cap_ - end_ < min && start_ > 0) {  // make room by moving what is left down
    std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (cap_ - end_ < min) {
    const std::size_t cap = end_ + std::max(min, cap_);
    std::unique_ptr<char[]> grown(new char[cap]);  // uninitialized: see frame.h
    if (end_ > 0) std::memcpy(grown.get(), buf_.get(), end_);
    buf_ = std::move(grown);
    cap_ = cap;
  }
  return {buf_.get() + end_, cap_ - end_};
}

void FrameDecoder::append(std::string_view data) {
  auto space = prepare(data.size());
  std::memcpy(space.data(), data.data(), data.size());
  commit(data.size());
}

// refuse(): the error for the frame at start_ (or the one found before), kept so that
// every later call reports it again. Out of line: next() is on every frame's path.
FrameDecoder::Status FrameDecoder::refuse(ProtocolError* error) {
  if (!failed_) {
    const char* p = buf_.get() + start_;
    const auto type = static_cast<std::uint8_t>(p[0]);
    const std::uint64_t size = Reader(p + 3, 4).u32();
    std::string text;
    if (type != 1 && type != 2 && type != 3 && type != 8)
      text = "unknown frame type " + std::to_string(type);
    else if (frame_max_ != 0 && size + kFrameOverhead > frame_max_)
      text = "frame of " + std::to_string(size + kFrameOverhead) + " bytes exceeds frame_max " +
             std::to_string(frame_max_);
    else if (static_cast<std::uint8_t>(p[7 + size]) != kFrameEndOctet)
      text = "frame end octet is " + std::to_string(std::uint8_t(p[7 + size])) + ", not 206 (0xCE)";
    else
      text = "heartbeat frame on channel " +
             std::to_string(std::uint8_t(p[1]) << 8 | std::uint8_t(p[2]));
    failed_ = ProtocolError{ReplyCode::frame_error, std::move(text)};
  }
  *error = *failed_;
  return Status::error;
}

// ---- ContentAssembler ----------------------------------------------------------------

// fail(): the error for a fault, its text built here, out of the way of feed()'s hot
// path (which then has no strings to build or registers to save for them).
ContentAssembler::Status ContentAssembler::fail(ProtocolError* error, Fault fault,
                                                const char* detail, std::uint64_t n) {
  const MethodInfo& info = method_info(command_.method);
  ReplyCode code = ReplyCode::syntax_error;
  std::string text;
  switch (fault) {
    case Fault::method_in_content:
      code = ReplyCode::unexpected_frame;
      text =
          std::string("expected content header or body for ") + info.name + ", got a method frame";
      break;
    case Fault::unknown_method:
      code = ReplyCode::command_invalid;
      text = "unknown method frame";
      break;
    case Fault::malformed_method:
      text = std::string("malformed method frame: ") + detail;
      break;
    case Fault::trailing_arguments:
      state_ = State::want_header;  // so that the error names the method
      text = std::string("trailing bytes after the arguments of ") + info.name;
      break;
    case Fault::unexpected_header:
      code = ReplyCode::unexpected_frame;
      text = "unexpected content header frame";
      break;
    case Fault::malformed_header:
      text = std::string("malformed content header: ") + detail;
      break;
    case Fault::header_class:
      code = ReplyCode::unexpected_frame;
      text = "content header for class " + std::to_string(n) + " after " + info.name;
      break;
    case Fault::body_too_large:
      code = ReplyCode::precondition_failed;
      text = "message size " + std::to_string(n) + " is larger than configured max size " +
             std::to_string(max_body_);
      break;
    case Fault::unexpected_body:
      code = ReplyCode::unexpected_frame;
      text = "unexpected content body frame";
      break;
    case Fault::body_overrun:
      code = ReplyCode::frame_error;
      text = "content body exceeds the " + std::to_string(n) + " bytes its header announced";
      break;
    case Fault::heartbeat:
      code = ReplyCode::unexpected_frame;
      text = "heartbeat frame given to a channel";
      break;
  }
  *error = ProtocolError{code, std::move(text), channel_};
  if (state_ != State::idle) error->class_id = info.class_id, error->method_id = info.method_id;
  state_ = State::idle;
  return Status::error;
}

ContentAssembler::Status ContentAssembler::feed(const Frame& frame, ProtocolError* error) {
  channel_ = frame.channel;
  Reader r(frame.payload);
  switch (frame.type) {
    case FrameType::method: {
      if (state_ != State::idle) [[unlikely]]
        return fail(error, Fault::method_in_content);
      bool unknown = false;
      // In place: a channel that publishes decodes each basic.publish over the last one.
      if (!decode_method_into(r, command_.method, &unknown)) [[unlikely]]
        return fail(error, unknown ? Fault::unknown_method : Fault::malformed_method, r.error());
      if (!r.at_end()) [[unlikely]]
        return fail(error, Fault::trailing_arguments);
      command_.content.body.clear();
      command_.content.body_size = 0;
      if (!method_info(command_.method).has_content) {
        command_.content.properties = {};
        return Status::complete;
      }
      state_ = State::want_header;  // whose frame decodes over the properties
      return Status::need_more;
    }
    case FrameType::header: {
      if (state_ != State::want_header) [[unlikely]]
        return fail(error, Fault::unexpected_header);
      const std::uint16_t class_id = r.u16();
      r.u16();  // weight, unused
      const std::uint64_t body_size = command_.content.body_size = r.u64();
      if (keep_wire_)
        BasicProperties::skip(r);
      else
        command_.content.properties.decode_into(r);
      if (!r.ok() || !r.at_end()) [[unlikely]]
        return fail(error, Fault::malformed_header, r.ok() ? "trailing bytes" : r.error());
      // Owned, not borrowed: the body frames may come in a later read, after the
      // decoder's buffer has been reused.
      if (keep_wire_)
        assign_bytes(command_.content.properties_wire.storage(), frame.payload.substr(12));
      if (class_id != method_info(command_.method).class_id) [[unlikely]]
        return fail(error, Fault::header_class, nullptr, class_id);
      if (max_body_ != 0 && body_size > max_body_) [[unlikely]]
        return fail(error, Fault::body_too_large, nullptr, body_size);
      if (body_size == 0) {
        state_ = State::idle;
        return Status::complete;
      }
      state_ = State::want_body;
      return Status::need_more;
    }
    case FrameType::body: {
      if (state_ != State::want_body) [[unlikely]]
        return fail(error, Fault::unexpected_body);
      Body& body = command_.content.body;
      const std::uint64_t want = command_.content.body_size;
      if (body.size() + frame.payload.size() > want) [[unlikely]]
        return fail(error, Fault::body_overrun, nullptr, want);
      if (body.empty() && frame.payload.size() == want) {
        body.borrow(frame.payload);  // the whole body in one frame: no copy
      } else {
        std::string& s = body.storage();
        if (s.empty()) s.reserve(std::min(want, kMaxReserve));
        s.append(frame.payload);
      }
      if (body.size() < want) return Status::need_more;
      state_ = State::idle;
      return Status::complete;
    }
    case FrameType::heartbeat:
      break;
  }
  return fail(error, Fault::heartbeat);
}

// ---- FrameEncoder --------------------------------------------------------------------

namespace {
char* put_frame_header(char* p, FrameType type, std::uint16_t channel, std::size_t size) {
  p = wire::put_u8(p, static_cast<std::uint8_t>(type));
  return wire::put_u32(wire::put_u16(p, channel), static_cast<std::uint32_t>(size));
}
}  // namespace

// Each frame's size is worked out first (which also refuses what cannot be encoded
// before anything is appended); then the buffer grows once and the frame is written
// through a pointer.
void FrameEncoder::method(std::uint16_t channel, const Method& m) {
  const std::size_t size = encoded_size(m);
  char* p = put_frame_header(Writer(buf_).extend(7 + size + 1), FrameType::method, channel, size);
  *encode_method_to(p, m) = static_cast<char>(kFrameEndOctet);
}

// put_content() writes the method and header frames, the properties through
// put_props(p), then appends the body frames.
template <typename PutProperties>
void FrameEncoder::put_content(std::uint16_t channel, const Method& m, std::size_t props_size,
                               PutProperties put_props, std::string_view body) {
  const std::size_t method_size = encoded_size(m);
  const std::size_t header_size = 12 + props_size;
  char* p = Writer(buf_).extend(7 + method_size + 1 + 7 + header_size + 1);
  p = encode_method_to(put_frame_header(p, FrameType::method, channel, method_size), m);
  p = wire::put_u8(p, kFrameEndOctet);
  p = put_frame_header(p, FrameType::header, channel, header_size);
  p = wire::put_u64(wire::put_u16(wire::put_u16(p, method_info(m).class_id), 0), body.size());
  p = put_props(p);
  wire::put_u8(p, kFrameEndOctet);
  // The body is appended, not resized for: resize() would zero what memcpy then overwrites.
  const std::size_t chunk = frame_max_ > kFrameOverhead ? frame_max_ - kFrameOverhead : 1 << 30;
  for (std::size_t off = 0; off < body.size(); off += chunk) {
    const std::string_view part = body.substr(off, chunk);
    char h[7];
    buf_.append(h, put_frame_header(h, FrameType::body, channel, part.size()) - h);
    buf_.append(part);
    buf_.push_back(static_cast<char>(kFrameEndOctet));
  }
}

void FrameEncoder::content(std::uint16_t channel, const Method& m, const BasicProperties& props,
                           std::string_view body) {
  put_content(
      channel, m, props.encoded_size(), [&](char* p) { return props.encode_to(p); }, body);
}

void FrameEncoder::content_wire(std::uint16_t channel, const Method& m,
                                std::string_view properties_wire, std::string_view body) {
  put_content(
      channel, m, properties_wire.size(),
      [&](char* p) {
        std::memcpy(p, properties_wire.data(), properties_wire.size());
        return p + properties_wire.size();
      },
      body);
}

void FrameEncoder::heartbeat() {
  const char hb[8] = {8, 0, 0, 0, 0, 0, 0, static_cast<char>(kFrameEndOctet)};
  buf_.append(hb, 8);
}

}  // namespace weft::amqp
