// Names of the neutral content types (content.h).
#include "protocol/content.h"

#include "protocol/requests.h"

namespace tollgate::protocol {

std::string_view block_type_name(ContentBlock::Type type) {
  switch (type) {
    case ContentBlock::Type::kText: return "text";
    case ContentBlock::Type::kImage: return "image";
    case ContentBlock::Type::kToolUse: return "tool_use";
    case ContentBlock::Type::kToolResult: return "tool_result";
  }
  return "text";
}

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kEndTurn: return "end_turn";
    case StopReason::kMaxTokens: return "max_tokens";
    case StopReason::kStopSequence: return "stop_sequence";
    case StopReason::kToolUse: return "tool_use";
    case StopReason::kRefusal: return "refusal";
  }
  return "end_turn";
}

bool CallRequest::full_fidelity() const {
  if (!system_blocks.empty() || !tools.empty() || tool_choice || !stop_sequences.empty() || top_p) {
    return true;
  }
  for (const auto& m : messages) {
    if (m.has_blocks()) return true;
  }
  return false;
}

}  // namespace tollgate::protocol
