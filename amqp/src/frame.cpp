// frame.cpp: frame decoding, content assembly and frame encoding (weft/amqp/frame.h).
#include "weft/amqp/frame.h"

#include <cstring>

namespace weft::amqp {

namespace {
constexpr std::uint8_t kFrameEndOctet = 0xCE;
// The most body bytes reserved up front: a header may claim any size, honest or not.
constexpr std::uint64_t kMaxReserve = 1 << 20;

std::uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const std::uint8_t*>(p);
  return std::uint32_t(u[0]) << 24 | std::uint32_t(u[1]) << 16 | std::uint32_t(u[2]) << 8 | u[3];
}
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

FrameDecoder::Status FrameDecoder::next(Frame* frame, ProtocolError* error) {
  auto fail = [&](std::string text) {
    failed_ = ProtocolError{ReplyCode::frame_error, std::move(text)};
    *error = *failed_;
    return Status::error;
  };
  if (failed_) {
    *error = *failed_;
    return Status::error;
  }
  const std::size_t have = end_ - start_;
  if (have < 7) return Status::need_more;
  const char* p = buf_.get() + start_;
  const auto type = static_cast<std::uint8_t>(p[0]);
  const auto channel = static_cast<std::uint16_t>(std::uint8_t(p[1]) << 8 | std::uint8_t(p[2]));
  const std::uint32_t size = be32(p + 3);
  if (type != 1 && type != 2 && type != 3 && type != 8)
    return fail("unknown frame type " + std::to_string(type));
  if (frame_max_ != 0 && std::uint64_t(size) + kFrameOverhead > frame_max_)
    return fail("frame of " + std::to_string(std::uint64_t(size) + kFrameOverhead) +
                " bytes exceeds frame_max " + std::to_string(frame_max_));
  if (have < std::size_t(size) + kFrameOverhead) return Status::need_more;
  if (static_cast<std::uint8_t>(p[7 + size]) != kFrameEndOctet)
    return fail("frame end octet is " + std::to_string(std::uint8_t(p[7 + size])) +
                ", not 206 (0xCE)");
  if (type == 8 && channel != 0) return fail("heartbeat frame on channel " + std::to_string(channel));
  frame->type = static_cast<FrameType>(type);
  frame->channel = channel;
  frame->payload = std::string_view(p + 7, size);
  start_ += size + kFrameOverhead;
  if (start_ == end_) start_ = end_ = 0;  // the bytes stay put until the next prepare()
  return Status::frame;
}

// ---- ContentAssembler ----------------------------------------------------------------

ContentAssembler::Status ContentAssembler::fail(ProtocolError* error, ReplyCode code,
                                                std::string text) {
  *error = ProtocolError{code, std::move(text), channel_};
  const MethodInfo& info = method_info(command_.method);
  if (state_ != State::idle) error->class_id = info.class_id, error->method_id = info.method_id;
  state_ = State::idle;
  return Status::error;
}

ContentAssembler::Status ContentAssembler::feed(const Frame& frame, ProtocolError* error) {
  channel_ = frame.channel;
  Reader r(frame.payload);
  switch (frame.type) {
    case FrameType::method: {
      if (state_ != State::idle)
        return fail(error, ReplyCode::unexpected_frame,
                    std::string("expected content header or body for ") +
                        method_info(command_.method).name + ", got a method frame");
      bool unknown = false;
      auto m = decode_method(r, &unknown);
      if (!m) {
        if (unknown)
          return fail(error, ReplyCode::command_invalid, "unknown method frame");
        return fail(error, ReplyCode::syntax_error,
                    std::string("malformed method frame: ") + r.error());
      }
      command_.method = std::move(*m);
      const MethodInfo& info = method_info(command_.method);
      if (!r.at_end()) {
        state_ = State::want_header;  // so that fail() names the method
        return fail(error, ReplyCode::syntax_error,
                    std::string("trailing bytes after the arguments of ") + info.name);
      }
      command_.content.body.clear();
      command_.content.body_size = 0;
      command_.content.properties = {};
      if (!info.has_content) return Status::complete;
      state_ = State::want_header;
      return Status::need_more;
    }
    case FrameType::header: {
      if (state_ != State::want_header)
        return fail(error, ReplyCode::unexpected_frame, "unexpected content header frame");
      const std::uint16_t class_id = r.u16();
      r.u16();  // weight, unused
      command_.content.body_size = r.u64();
      command_.content.properties = BasicProperties::decode(r);
      if (!r.ok() || !r.at_end())
        return fail(error, ReplyCode::syntax_error,
                    std::string("malformed content header: ") + (r.ok() ? "trailing bytes" : r.error()));
      if (class_id != method_info(command_.method).class_id)
        return fail(error, ReplyCode::unexpected_frame,
                    "content header for class " + std::to_string(class_id) + " after " +
                        method_info(command_.method).name);
      if (max_body_ != 0 && command_.content.body_size > max_body_)
        return fail(error, ReplyCode::precondition_failed,
                    "message size " + std::to_string(command_.content.body_size) +
                        " is larger than configured max size " + std::to_string(max_body_));
      if (command_.content.body_size == 0) {
        state_ = State::idle;
        return Status::complete;
      }
      command_.content.body.reserve(std::min(command_.content.body_size, kMaxReserve));
      state_ = State::want_body;
      return Status::need_more;
    }
    case FrameType::body: {
      if (state_ != State::want_body)
        return fail(error, ReplyCode::unexpected_frame, "unexpected content body frame");
      std::string& body = command_.content.body;
      if (body.size() + frame.payload.size() > command_.content.body_size)
        return fail(error, ReplyCode::frame_error,
                    "content body exceeds the " + std::to_string(command_.content.body_size) +
                        " bytes its header announced");
      body.append(frame.payload);
      if (body.size() < command_.content.body_size) return Status::need_more;
      state_ = State::idle;
      return Status::complete;
    }
    case FrameType::heartbeat:
      break;
  }
  return fail(error, ReplyCode::unexpected_frame, "heartbeat frame given to a channel");
}

// ---- FrameEncoder --------------------------------------------------------------------

std::size_t FrameEncoder::begin_frame(FrameType type, std::uint16_t channel) {
  const std::size_t at = buf_.size();
  const char h[7] = {char(type), char(channel >> 8), char(channel), 0, 0, 0, 0};
  buf_.append(h, 7);
  return at;
}

void FrameEncoder::end_frame(std::size_t at) {
  const auto size = static_cast<std::uint32_t>(buf_.size() - at - 7);
  char* p = buf_.data() + at + 3;
  p[0] = char(size >> 24), p[1] = char(size >> 16), p[2] = char(size >> 8), p[3] = char(size);
  buf_.push_back(static_cast<char>(kFrameEndOctet));
}

void FrameEncoder::method(std::uint16_t channel, const Method& m) {
  const std::size_t at = begin_frame(FrameType::method, channel);
  Writer w(buf_);
  encode_method(m, w);
  end_frame(at);
}

void FrameEncoder::content(std::uint16_t channel, const Method& m, const BasicProperties& props,
                           std::string_view body) {
  method(channel, m);
  std::size_t at = begin_frame(FrameType::header, channel);
  Writer w(buf_);
  w.u16(method_info(m).class_id);
  w.u16(0);
  w.u64(body.size());
  props.encode(w);
  end_frame(at);
  const std::size_t chunk = frame_max_ > kFrameOverhead ? frame_max_ - kFrameOverhead : 1 << 30;
  for (std::size_t off = 0; off < body.size(); off += chunk) {
    at = begin_frame(FrameType::body, channel);
    buf_.append(body.substr(off, chunk));
    end_frame(at);
  }
}

void FrameEncoder::heartbeat() {
  const char hb[8] = {8, 0, 0, 0, 0, 0, 0, static_cast<char>(kFrameEndOctet)};
  buf_.append(hb, 8);
}

}  // namespace weft::amqp
