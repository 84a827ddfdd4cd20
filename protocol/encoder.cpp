// Encoding of requests (client side), replies, error replies and events.
// Field names and order come from wire_fields.h.
#include <variant>

#include "protocol/codec.h"
#include "protocol/packer.h"
#include "protocol/wire_fields.h"

namespace tollgate::protocol {
namespace {

// Big enough for a typical call reply without reallocating.
constexpr size_t kReserveBytes = 256;

}  // namespace

std::string encode_request(const RequestId& id, const RequestBody& body) {
  detail::Packer p(detail::Absent::kOmit, kReserveBytes);
  const bool has_id = !id.is_nil();
  std::visit(
      [&](const auto& request) {
        p.put_struct(request, has_id ? 3 : 2, [&] {
          p.str("v");
          p.put(kProtocolVersion);
          if (has_id) {
            p.str("id");
            p.id(id);
          }
          p.str("op");
          p.str(op_name(body));
        });
      },
      body);
  return p.take();
}

namespace {

// {v, id, ok: true[, stale], <fields of the reply>}.
template <class Reply>
std::string encode_ok_reply(const RequestId& id, const Reply& reply, const Staleness* stale) {
  detail::Packer p(detail::Absent::kNil, kReserveBytes);
  p.put_struct(reply, stale ? 4 : 3, [&] {
    p.str("v");
    p.put(kProtocolVersion);
    p.str("id");
    p.id(id);
    p.str("ok");
    p.put(true);
    if (!stale) return;
    p.str("stale");
    p.map_header(2);
    p.str("as_of_ms");
    p.put(stale->as_of_ms);
    p.str("reason");
    p.str(stale->reason);
  });
  return p.take();
}

}  // namespace

template <class Reply>
std::string encode_reply(const RequestId& id, const Reply& reply) {
  return encode_ok_reply(id, reply, nullptr);
}

template std::string encode_reply(const RequestId&, const PingReply&);
template std::string encode_reply(const RequestId&, const CallReply&);
template std::string encode_reply(const RequestId&, const UsageReply&);
template std::string encode_reply(const RequestId&, const SummaryReply&);
template std::string encode_reply(const RequestId&, const ProviderStatusReply&);
template std::string encode_reply(const RequestId&, const RecommendReply&);
template std::string encode_reply(const RequestId&, const EmergencyStatusReply&);
template std::string encode_reply(const RequestId&, const AlertsReply&);
template std::string encode_reply(const RequestId&, const HistoryReply&);
template std::string encode_reply(const RequestId&, const ResetReply&);
template std::string encode_reply(const RequestId&, const LedgerEventsReply&);
template std::string encode_reply(const RequestId&, const CallPartReply&);
template std::string encode_reply(const RequestId&, const CancelReply&);
template std::string encode_reply(const RequestId&, const LimitsReply&);
template std::string encode_reply(const RequestId&, const ForecastReply&);
template std::string encode_reply(const RequestId&, const DailyReply&);

std::string encode_reply(const RequestId& id, const ReplyBody& reply) {
  return std::visit([&](const auto& r) { return encode_reply(id, r); }, reply);
}

std::string encode_stale_reply(const RequestId& id, const ReplyBody& reply,
                               const Staleness& stale) {
  return std::visit([&](const auto& r) { return encode_ok_reply(id, r, &stale); }, reply);
}

std::string encode_error_reply(const RequestId& id, const Error& error) {
  detail::Packer p(detail::Absent::kNil, 64 + error.message.size());
  p.map_header(error.partial ? 5 : 4);
  p.str("v");
  p.put(kProtocolVersion);
  p.str("id");
  p.id(id);
  p.str("ok");
  p.put(false);
  if (error.partial) {
    p.str("partial");
    p.put(true);
  }
  p.str("error");
  p.map_header(2 + (error.retry_after_ms ? 1 : 0) + (error.partial ? 1 : 0));
  p.str("code");
  p.str(code_name(error.code));
  p.str("message");
  p.str(error.message);
  if (error.retry_after_ms) {
    p.str("retry_after_ms");
    p.put(*error.retry_after_ms);
  }
  if (error.partial) {
    p.str("partial");
    p.put(true);
  }
  return p.take();
}

EncodedEvent encode_event(const Event& event, uint64_t seq) {
  detail::Packer p(detail::Absent::kNil, kReserveBytes);
  std::visit(
      [&](const auto& ev) {
        p.put_struct(ev, 1, [&] {
          p.str("seq");
          p.put(seq);
        });
      },
      event);
  return {event_topic(event), p.take()};
}

}  // namespace tollgate::protocol
