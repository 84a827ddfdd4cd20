#include "daemon/server/reply.h"

#include "protocol/codec.h"
#include "protocol/json_bridge.h"

namespace tollgate {

std::string_view Reply::code() const {
  return ok() ? std::string_view("ok") : protocol::code_name(error().code);
}

std::string_view Reply::reason() const {
  if (!ok()) return {};
  const auto* call = std::get_if<protocol::CallReply>(&body());
  return call ? std::string_view(call->reason) : std::string_view();
}

std::string wire_reply(const protocol::RequestId& id, const Reply& reply) {
  if (!reply.ok()) return protocol::encode_error_reply(id, reply.error());
  if (reply.stale()) return protocol::encode_stale_reply(id, reply.body(), *reply.stale());
  return protocol::encode_reply(id, reply.body());
}

nlohmann::json json_reply(const protocol::RequestId& id, const Reply& reply) {
  if (!reply.ok()) return protocol::error_reply_json(id, reply.error());
  if (reply.stale()) return protocol::stale_reply_json(id, reply.body(), *reply.stale());
  return protocol::reply_json(id, reply.body());
}

}  // namespace tollgate
