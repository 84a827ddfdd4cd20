// check_conversation (content_decoder.h): the rules across the messages of
// a call that providers enforce with a 400, checked here so that a call
// that breaks one is refused before anything is reserved or sent.
#include <string>
#include <unordered_map>

#include "protocol/content_decoder.h"

namespace tollgate::protocol::detail {
namespace {

using Type = ContentBlock::Type;

Error bad(const std::string& where, const std::string& rule) { return Error::bad_request(where + ": " + rule); }

std::string message_path(size_t i) { return "messages[" + std::to_string(i) + "]"; }

std::string block_path(size_t i, size_t j) { return message_path(i) + ".content[" + std::to_string(j) + "]"; }

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::optional<Error> check_tool_choice(const CallRequest& r) {
  if (!r.tool_choice) return std::nullopt;
  const ToolChoice& c = *r.tool_choice;
  if ((c.type == ToolChoice::Type::kAny || c.type == ToolChoice::Type::kTool) && r.tools.empty()) {
    return bad("tool_choice.type", "any and tool need tools");
  }
  if (c.type != ToolChoice::Type::kTool) return std::nullopt;
  for (const auto& t : r.tools) {
    if (t.name == c.name) return std::nullopt;
  }
  return bad("tool_choice.name", quoted(c.name) + " names none of the tools");
}

// Roles of tool blocks, unique tool_use ids, images per call.
std::optional<Error> check_blocks(const CallRequest& r) {
  std::unordered_map<std::string, std::string> tool_use_at;  // id -> path of its tool_use
  size_t images = 0;
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const ChatMessage& m = r.messages[i];
    for (size_t j = 0; j < m.blocks.size(); ++j) {
      const ContentBlock& b = m.blocks[j];
      if (b.type == Type::kToolUse) {
        if (m.role != "assistant") return bad(block_path(i, j) + ".type", "tool_use only in assistant turns");
        auto [at, added] = tool_use_at.emplace(b.id, block_path(i, j));
        if (!added) return bad(block_path(i, j) + ".id", quoted(b.id) + " is already the id of " + at->second);
      }
      if (b.type == Type::kToolResult && m.role != "user") {
        return bad(block_path(i, j) + ".type", "tool_result only in user turns");
      }
      images += b.type == Type::kImage ? 1 : 0;
      for (const auto& inner : b.content) images += inner.type == Type::kImage ? 1 : 0;
      if (images > kMaxImagesPerCall) {
        return Error::too_large(block_path(i, j) + ": more than " + std::to_string(kMaxImagesPerCall) +
                                " images in one call");
      }
    }
  }
  return std::nullopt;
}

using IdSet = std::unordered_map<std::string, size_t>;  // tool id -> block index

IdSet tool_use_ids(const ChatMessage& m) {
  IdSet ids;
  for (size_t j = 0; j < m.blocks.size(); ++j) {
    if (m.blocks[j].type == Type::kToolUse) ids.emplace(m.blocks[j].id, j);
  }
  return ids;
}

// User turn i: its tool_results come first, each answers a tool_use of the
// assistant turn right before it, at most once. `answered` gets their ids.
std::optional<Error> check_results(const CallRequest& r, size_t i, IdSet& answered) {
  const ChatMessage& m = r.messages[i];
  const bool after_assistant = i > 0 && r.messages[i - 1].role == "assistant";
  const IdSet uses = after_assistant ? tool_use_ids(r.messages[i - 1]) : IdSet{};
  bool other_seen = false;
  for (size_t j = 0; j < m.blocks.size(); ++j) {
    const ContentBlock& b = m.blocks[j];
    if (b.type != Type::kToolResult) {
      other_seen = true;
      continue;
    }
    if (other_seen) {
      return bad(block_path(i, j) + ".type",
                 "tool_result after another block; tool_result blocks come first in a user turn");
    }
    const std::string where = block_path(i, j) + ".tool_use_id";
    if (!after_assistant) {
      return bad(where, quoted(b.tool_use_id) + " answers no tool_use: the turn before is not an assistant turn");
    }
    if (!uses.contains(b.tool_use_id)) {
      return bad(where, quoted(b.tool_use_id) + " names no tool_use in " + message_path(i - 1));
    }
    auto [at, added] = answered.emplace(b.tool_use_id, j);
    if (!added) return bad(where, quoted(b.tool_use_id) + " is already answered by " + block_path(i, at->second));
  }
  return std::nullopt;
}

// Assistant turn i followed by a user turn: each tool_use is answered there.
std::optional<Error> check_answered(const CallRequest& r, size_t i, const IdSet& answered) {
  const ChatMessage& m = r.messages[i];
  for (size_t j = 0; j < m.blocks.size(); ++j) {
    const ContentBlock& b = m.blocks[j];
    if (b.type == Type::kToolUse && !answered.contains(b.id)) {
      return bad(block_path(i, j) + ".id",
                 "tool_use " + quoted(b.id) + " has no tool_result in " + message_path(i + 1));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Error> check_conversation(const CallRequest& r) {
  if (auto e = check_tool_choice(r)) return e;
  bool any_blocks = false;
  for (const auto& m : r.messages) any_blocks = any_blocks || m.has_blocks();
  if (!any_blocks) return std::nullopt;
  if (auto e = check_blocks(r)) return e;
  for (size_t i = 0; i < r.messages.size(); ++i) {
    if (r.messages[i].role != "user") continue;
    IdSet answered;
    if (auto e = check_results(r, i, answered)) return e;
    if (i > 0 && r.messages[i - 1].role == "assistant") {
      if (auto e = check_answered(r, i - 1, answered)) return e;
    }
  }
  return std::nullopt;
}

}  // namespace tollgate::protocol::detail
