#include "daemon/core/input_bound.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/image_size.h"
#include "daemon/core/image_tokens.h"
#include "daemon/core/policy/saturating.h"

namespace tollgate::ledger {
namespace {

using protocol::ContentBlock;
using protocol::JsonValue;

uint64_t line_breaks(std::string_view s) {
  return static_cast<uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

// Both numbers of a call, summed part by part.
class InputTally {
 public:
  explicit InputTally(bool gpt4o_mini) : gpt4o_mini_(gpt4o_mini) {}

  InputSize result() const {
    return InputSize{saturating_add(text_bytes_ / 4, image_estimate_), bound_};
  }

  void overhead(uint64_t tokens) { bound_ = saturating_add(bound_, tokens); }

  void text(std::string_view s) {
    text_bytes_ = saturating_add(text_bytes_, s.size());
    bound_ = saturating_add(bound_, s.size());
  }

  // Prose a provider may render as comment lines (descriptions).
  void prose(std::string_view s) {
    text(s);
    overhead(saturating_mul(line_breaks(s), kPerLineAllowance));
  }

  void json(const JsonValue& value) {
    if (value.is_null()) return;
    // ensure_ascii: the longest rendering; invalid UTF-8 is replaced
    // (U+FFFD, six bytes escaped) rather than thrown on.
    text(value.dump(-1, ' ', true, JsonValue::error_handler_t::replace));
    const JsonShape shape = json_shape(value);
    overhead(saturating_mul(shape.values, kPerJsonValueAllowance));
    overhead(saturating_mul(shape.line_breaks, kPerLineAllowance));
  }

  void image(const protocol::ImageSource& source) {
    std::optional<ImageDimensions> size;
    if (source.kind == protocol::ImageSource::Kind::kBase64) {
      size = image_dimensions_base64(source.data);
    }
    const ImageTokens tokens = image_tokens(size, gpt4o_mini_);
    image_estimate_ = saturating_add(image_estimate_, tokens.estimate);
    overhead(tokens.bound);
  }

  void block(const ContentBlock& b) {
    const bool tool_block =
        b.type == ContentBlock::Type::kToolUse || b.type == ContentBlock::Type::kToolResult;
    if (tool_block) saw_tool_block_ = true;
    overhead(tool_block ? kPerToolBlockOverhead : kPerBlockOverhead);
    // Every field a block of any type may carry (the others are empty).
    text(b.text);
    text(b.id);
    text(b.name);
    text(b.tool_use_id);
    json(b.input);
    if (b.type == ContentBlock::Type::kImage) image(b.image);
    for (const auto& inner : b.content) block(inner);
  }

  void tool(const protocol::ToolSpec& spec) {
    overhead(kPerToolOverhead);
    text(spec.name);
    prose(spec.description);
    json(spec.input_schema);
  }

  bool saw_tool_block() const { return saw_tool_block_; }

 private:
  struct JsonShape {
    uint64_t values = 0;       // object members and array elements, at any depth
    uint64_t line_breaks = 0;  // inside strings and keys
  };
  static JsonShape json_shape(const JsonValue& root) {
    JsonShape shape;
    std::vector<const JsonValue*> stack{&root};
    while (!stack.empty()) {
      const JsonValue* v = stack.back();
      stack.pop_back();
      if (v->is_string()) shape.line_breaks += line_breaks(v->get_ref<const std::string&>());
      if (!v->is_structured()) continue;
      for (auto it = v->begin(); it != v->end(); ++it) {
        ++shape.values;
        if (v->is_object()) shape.line_breaks += line_breaks(it.key());
        stack.push_back(&*it);
      }
    }
    return shape;
  }

  uint64_t text_bytes_ = 0;
  uint64_t image_estimate_ = 0;
  uint64_t bound_ = 0;
  bool saw_tool_block_ = false;
  bool gpt4o_mini_ = true;
};

}  // namespace

InputSize input_size(const protocol::CallRequest& request, bool gpt4o_mini_images) {
  InputTally tally(gpt4o_mini_images);
  // The text-only parts, in the order and with the overheads of
  // input_size(system, contents).
  tally.overhead(kPerRequestOverhead);
  if (request.system) tally.text(*request.system);
  if (request.prompt) {
    tally.overhead(kPerMessageOverhead);
    tally.text(*request.prompt);
  }
  for (const auto& m : request.messages) {
    tally.overhead(kPerMessageOverhead);
    tally.text(m.content);
    for (const auto& b : m.blocks) tally.block(b);
  }
  // Section 8.
  for (const auto& b : request.system_blocks) tally.block(b);
  for (const auto& t : request.tools) tally.tool(t);
  if (request.tool_choice) tally.text(request.tool_choice->name);
  if (!request.tools.empty() || request.tool_choice || tally.saw_tool_block()) {
    tally.overhead(kToolUseSystemOverhead);
  }
  return tally.result();
}

uint64_t token_upper_bound(const protocol::CallRequest& request, uint64_t max_tokens) {
  return saturating_add(input_size(request, true).bound, max_tokens);
}

}  // namespace tollgate::ledger
