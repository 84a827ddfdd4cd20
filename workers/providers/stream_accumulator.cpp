// The parts and the final reply of one streamed answer.
#include "workers/providers/stream_accumulator.h"

#include "protocol/openai_format.h"

namespace tollgate::workers {

using protocol::ContentBlock;
using Kind = StreamEvent::Kind;

void StreamAccumulator::add(const StreamEvent& event, std::vector<StreamPart>& parts) {
  if (done_ || failed_) return;
  switch (event.kind) {
    case Kind::kIgnored:
      return;
    case Kind::kDone:
      done_ = true;
      return;
    case Kind::kFailed:
      failed_ = true;
      failure_ = event.failure;
      return;
    case Kind::kNotSupported:
      failed_ = true;
      failure_.kind = FailureKind::kInvalidResponse;
      failure_.message = "this provider's adapter cannot read streamed answers";
      return;
    case Kind::kUpdate:
      break;
  }
  if (!event.model.empty()) model_ = event.model;
  for (const StreamDelta& delta : event.deltas) apply(delta, parts);
  if (event.stop_reason) stop_reason_ = *event.stop_reason;
  refusal_ = refusal_ || event.refusal;
  take_usage(event);
}

void StreamAccumulator::take_usage(const StreamEvent& event) {
  if (event.input_tokens) input_tokens_ = event.input_tokens;
  if (event.output_tokens) output_tokens_ = event.output_tokens;
  if (event.cache_creation_input_tokens) cache_creation_ = event.cache_creation_input_tokens;
  if (event.cache_read_input_tokens) cache_read_ = event.cache_read_input_tokens;
  usage_reported_ = usage_reported_ || event.final_usage;
}

StreamAccumulator::Block* StreamAccumulator::find(uint64_t provider_block,
                                                  ContentBlock::Type type) {
  auto it = index_of_.find(provider_block);
  if (it == index_of_.end()) return nullptr;
  Block& b = blocks_[it->second];
  return b.block.type == type ? &b : nullptr;
}

StreamAccumulator::Block& StreamAccumulator::open(uint64_t provider_block,
                                                  ContentBlock::Type type) {
  index_of_[provider_block] = blocks_.size();
  Block& b = blocks_.emplace_back();
  b.block.type = type;
  return b;
}

void StreamAccumulator::apply(const StreamDelta& delta, std::vector<StreamPart>& parts) {
  using DType = StreamDelta::Type;
  const bool known = index_of_.count(delta.block) > 0;
  const bool tool = delta.type == DType::kToolUseStart || delta.type == DType::kInputJson;
  Block* b = find(delta.block, tool ? ContentBlock::Type::kToolUse : ContentBlock::Type::kText);
  if (delta.type == DType::kToolUseStart) {
    if (known) return;  // a block starts once
    Block& opened = open(delta.block, ContentBlock::Type::kToolUse);
    opened.block.id = delta.id;
    opened.block.name = delta.name;
    parts.push_back(
        StreamPart{StreamPart::Type::kToolUseStart, blocks_.size() - 1, "", delta.id, delta.name});
    return;
  }
  if (delta.type == DType::kInputJson) {
    if (b == nullptr || delta.text.empty()) return;  // a block the reply does not keep
    b->input_json += delta.text;
    parts.push_back(
        StreamPart{StreamPart::Type::kInputJsonDelta, index_of_[delta.block], delta.text, "", ""});
    return;
  }
  // Text: a start, or a piece (which opens the block when nothing started it).
  if (b == nullptr) {
    if (known) return;  // text for a tool block: not the documented order
    b = &open(delta.block, ContentBlock::Type::kText);
  } else if (delta.type == DType::kTextStart) {
    return;
  }
  if (delta.text.empty()) return;
  b->block.text += delta.text;
  parts.push_back(
      StreamPart{StreamPart::Type::kTextDelta, index_of_[delta.block], delta.text, "", ""});
}

ProviderResult StreamAccumulator::result() const {
  ProviderResult r;
  if (failed_) {
    r.status = ProviderResult::Status::kFailed;
    r.failure = failure_;
    return r;
  }
  r.reply.model = model_;
  r.reply.content.reserve(blocks_.size());
  for (const Block& b : blocks_) {
    r.reply.content.push_back(b.block);
    if (b.block.type == ContentBlock::Type::kToolUse) {
      r.reply.content.back().input = protocol::tool_arguments_input(b.input_json);
    }
  }
  r.reply.text = protocol::joined_text(r.reply.content);
  r.reply.stop_reason = refusal_ ? std::optional(protocol::StopReason::kRefusal) : stop_reason_;
  if (!usage_reported_) {
    r.status = ProviderResult::Status::kUsageMissing;
    return r;
  }
  r.status = ProviderResult::Status::kOk;
  r.reply.input_tokens = input_tokens_.value_or(0);
  r.reply.output_tokens = output_tokens_.value_or(0);
  r.reply.cache_creation_input_tokens = cache_creation_;
  r.reply.cache_read_input_tokens = cache_read_;
  return r;
}

}  // namespace tollgate::workers
