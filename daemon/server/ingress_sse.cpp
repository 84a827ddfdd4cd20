#include "daemon/server/ingress_sse.h"

#include <map>
#include <optional>

#include "protocol/openai_format.h"

namespace tollgate::ingress {

using protocol::JsonValue;
using protocol::StreamChunk;

namespace {

std::string dump(const JsonValue& j) { return j.dump(-1, ' ', false, JsonValue::error_handler_t::replace); }

std::string data_line(const JsonValue& j) { return "data: " + dump(j) + "\n\n"; }

std::string event(std::string_view name, const JsonValue& j) {
  return "event: " + std::string(name) + "\n" + data_line(j);
}

class OpenAiWriter final : public SseWriter {
 public:
  OpenAiWriter(std::string id, std::string model, int64_t created, bool include_usage)
      : id_(std::move(id)), model_(std::move(model)), created_(created), include_usage_(include_usage) {}

  std::string begin() override {
    JsonValue delta = JsonValue::object();
    delta["role"] = "assistant";
    delta["content"] = "";
    return data_line(chunk(std::move(delta), JsonValue()));
  }

  std::string part(const StreamChunk& c) override {
    JsonValue delta = JsonValue::object();
    if (c.type == StreamChunk::Type::kTextDelta) {
      delta["content"] = c.text;
      return data_line(chunk(std::move(delta), JsonValue()));
    }
    JsonValue call = JsonValue::object();
    JsonValue fn = JsonValue::object();
    if (c.type == StreamChunk::Type::kToolUseStart) {
      const size_t ordinal = tool_index_.size();
      tool_index_[c.index] = ordinal;
      call["index"] = ordinal;
      call["id"] = c.id;
      call["type"] = "function";
      fn["name"] = c.name;
      fn["arguments"] = "";
    } else {
      auto it = tool_index_.find(c.index);
      call["index"] = it == tool_index_.end() ? 0 : it->second;
      fn["arguments"] = c.text;
    }
    call["function"] = std::move(fn);
    delta["tool_calls"] = JsonValue::array({std::move(call)});
    return data_line(chunk(std::move(delta), JsonValue()));
  }

  std::string finish(const protocol::CallReply& reply) override {
    const auto stop = reply.stop_reason.value_or(protocol::StopReason::kEndTurn);
    std::string out = data_line(
        chunk(JsonValue::object(), JsonValue(protocol::openai_finish_reason_name(stop))));
    if (include_usage_) {
      JsonValue j = head();
      j["choices"] = JsonValue::array();
      JsonValue usage = JsonValue::object();
      usage["prompt_tokens"] = reply.usage.input_tokens;
      usage["completion_tokens"] = reply.usage.output_tokens;
      usage["total_tokens"] = reply.usage.input_tokens + reply.usage.output_tokens;
      j["usage"] = std::move(usage);
      out += data_line(j);
    }
    return out + "data: [DONE]\n\n";
  }

  std::string ping() const override { return ": ping\n\n"; }

  std::string fail(const protocol::Error& error) override {
    // The SDKs raise an APIError for a data line holding `error`.
    JsonValue inner = JsonValue::object();
    inner["message"] = error.message;
    inner["type"] = error_type(Dialect::kOpenAI, error.code);
    inner["code"] = protocol::code_name(error.code);
    JsonValue j = JsonValue::object();
    j["error"] = std::move(inner);
    return data_line(j);
  }

 private:
  JsonValue head() const {
    JsonValue j = JsonValue::object();
    j["id"] = id_;
    j["object"] = "chat.completion.chunk";
    j["created"] = created_;
    j["model"] = model_;
    return j;
  }

  JsonValue chunk(JsonValue delta, JsonValue finish_reason) const {
    JsonValue choice = JsonValue::object();
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["finish_reason"] = std::move(finish_reason);
    JsonValue j = head();
    j["choices"] = JsonValue::array({std::move(choice)});
    return j;
  }

  std::string id_;
  std::string model_;
  int64_t created_;
  bool include_usage_;
  std::map<uint64_t, size_t> tool_index_;  // content block -> index among the tool calls
};

class AnthropicWriter final : public SseWriter {
 public:
  AnthropicWriter(std::string id, std::string model) : id_(std::move(id)), model_(std::move(model)) {}

  std::string begin() override {
    JsonValue usage = JsonValue::object();
    usage["input_tokens"] = 0;
    usage["output_tokens"] = 0;
    JsonValue message = JsonValue::object();
    message["id"] = id_;
    message["type"] = "message";
    message["role"] = "assistant";
    message["model"] = model_;
    message["content"] = JsonValue::array();
    message["stop_reason"] = nullptr;
    message["stop_sequence"] = nullptr;
    message["usage"] = std::move(usage);
    JsonValue j = JsonValue::object();
    j["type"] = "message_start";
    j["message"] = std::move(message);
    return event("message_start", j);
  }

  std::string part(const StreamChunk& c) override {
    std::string out;
    if (open_ != c.index || c.type == StreamChunk::Type::kToolUseStart) {
      out += close();
      out += start(c);
      open_ = c.index;
    }
    if (c.type == StreamChunk::Type::kToolUseStart) return out;
    JsonValue delta = JsonValue::object();
    if (c.type == StreamChunk::Type::kTextDelta) {
      delta["type"] = "text_delta";
      delta["text"] = c.text;
    } else {
      delta["type"] = "input_json_delta";
      delta["partial_json"] = c.text;
    }
    JsonValue j = JsonValue::object();
    j["type"] = "content_block_delta";
    j["index"] = c.index;
    j["delta"] = std::move(delta);
    return out + event("content_block_delta", j);
  }

  std::string finish(const protocol::CallReply& reply) override {
    std::string out = close();
    JsonValue delta = JsonValue::object();
    const auto stop = reply.stop_reason.value_or(protocol::StopReason::kEndTurn);
    delta["stop_reason"] = protocol::stop_reason_name(stop);
    delta["stop_sequence"] = nullptr;
    JsonValue usage = JsonValue::object();
    usage["input_tokens"] = reply.usage.input_tokens;
    usage["output_tokens"] = reply.usage.output_tokens;
    JsonValue j = JsonValue::object();
    j["type"] = "message_delta";
    j["delta"] = std::move(delta);
    j["usage"] = std::move(usage);
    out += event("message_delta", j);
    return out + event("message_stop", JsonValue{{"type", "message_stop"}});
  }

  std::string ping() const override { return event("ping", JsonValue{{"type", "ping"}}); }

  std::string fail(const protocol::Error& error) override {
    JsonValue inner = JsonValue::object();
    inner["type"] = error_type(Dialect::kAnthropic, error.code);
    inner["message"] = error.message;
    JsonValue j = JsonValue::object();
    j["type"] = "error";
    j["error"] = std::move(inner);
    return event("error", j);
  }

 private:
  std::string start(const StreamChunk& c) const {
    JsonValue block = JsonValue::object();
    if (c.type == StreamChunk::Type::kToolUseStart) {
      block["type"] = "tool_use";
      block["id"] = c.id;
      block["name"] = c.name;
      block["input"] = JsonValue::object();
    } else {
      block["type"] = "text";
      block["text"] = "";
    }
    JsonValue j = JsonValue::object();
    j["type"] = "content_block_start";
    j["index"] = c.index;
    j["content_block"] = std::move(block);
    return event("content_block_start", j);
  }

  std::string close() {
    if (!open_) return "";
    JsonValue j = JsonValue::object();
    j["type"] = "content_block_stop";
    j["index"] = *open_;
    open_.reset();
    return event("content_block_stop", j);
  }

  std::string id_;
  std::string model_;
  std::optional<uint64_t> open_;  // the content block started and not yet stopped
};

}  // namespace

std::unique_ptr<SseWriter> SseWriter::make(Dialect dialect, std::string id, std::string model,
                                           int64_t created, bool include_usage) {
  if (dialect == Dialect::kOpenAI) {
    return std::make_unique<OpenAiWriter>(std::move(id), std::move(model), created, include_usage);
  }
  return std::make_unique<AnthropicWriter>(std::move(id), std::move(model));
}

std::string SseWriter::replay(const protocol::CallReply& reply) {
  std::string out = begin();
  std::vector<protocol::ContentBlock> blocks = reply.content;
  if (blocks.empty() && !reply.text.empty()) blocks.push_back(protocol::ContentBlock::make_text(reply.text));
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    if (b.type == protocol::ContentBlock::Type::kText) {
      out += part(StreamChunk{StreamChunk::Type::kTextDelta, i, b.text, {}, {}});
    } else if (b.type == protocol::ContentBlock::Type::kToolUse) {
      out += part(StreamChunk{StreamChunk::Type::kToolUseStart, i, {}, b.id, b.name});
      out += part(StreamChunk{StreamChunk::Type::kInputJsonDelta, i, protocol::tool_arguments_text(b.input), {}, {}});
    }
  }
  return out + finish(reply);
}

}  // namespace tollgate::ingress
