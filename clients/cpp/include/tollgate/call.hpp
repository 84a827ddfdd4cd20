// The `call` op's request and reply as plain structs (PROTOCOL.md sections
// 3, 8, 9 and 10), and their conversion to and from tollgate::Value.
//
// A message's content, a tool_result's content and the system prompt are
// each either a string or a list of blocks: the blocks are sent when the
// list is non-empty, else the string. Tool inputs and input schemas are
// tollgate::Value maps (value.hpp). Plain data.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/value.hpp"

namespace tollgate {

// One content block: `type` is text, image, tool_use or tool_result; the
// fields of other types are left empty. Use the named constructors.
struct ContentBlock {
  std::string type;
  std::string text;  // text
  // image: source_type "base64" (media_type, data) or "url" (url)
  std::string source_type, media_type, data, url;
  std::string id, name;  // tool_use
  Value input;           // tool_use: a map
  std::string tool_use_id;                 // tool_result
  std::string content_text;                // tool_result content as a string...
  std::vector<ContentBlock> content;       // ...or as text/image blocks
  std::optional<bool> is_error;            // tool_result

  static ContentBlock make_text(std::string t) {
    ContentBlock b;
    b.type = "text";
    b.text = std::move(t);
    return b;
  }
  static ContentBlock image_base64(std::string media, std::string base64) {
    ContentBlock b;
    b.type = "image";
    b.source_type = "base64";
    b.media_type = std::move(media);
    b.data = std::move(base64);
    return b;
  }
  static ContentBlock image_url(std::string u) {
    ContentBlock b;
    b.type = "image";
    b.source_type = "url";
    b.url = std::move(u);
    return b;
  }
  static ContentBlock tool_use(std::string call_id, std::string tool, Value in) {
    ContentBlock b;
    b.type = "tool_use";
    b.id = std::move(call_id);
    b.name = std::move(tool);
    b.input = std::move(in);
    return b;
  }
  static ContentBlock tool_result(std::string call_id, std::string result, std::optional<bool> error = {}) {
    ContentBlock b;
    b.type = "tool_result";
    b.tool_use_id = std::move(call_id);
    b.content_text = std::move(result);
    b.is_error = error;
    return b;
  }
};

struct Message {
  std::string role;  // "user" or "assistant"
  std::string content;
  std::vector<ContentBlock> blocks;  // sent instead of `content` when non-empty
};

struct Tool {
  std::string name;
  std::string description;
  Value input_schema;  // a JSON Schema map
};

struct ToolChoice {
  std::string type;  // auto, any, none or tool
  std::string name;  // with "tool" only
};

struct CallOptions {
  std::string ai_name;                 // required
  std::optional<std::string> prompt;   // this or messages
  std::vector<Message> messages;
  std::optional<std::string> system;
  std::vector<ContentBlock> system_blocks;  // sent instead of `system` when non-empty
  std::optional<uint64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<std::string> preferred_provider;
  std::optional<std::string> model;
  // Generated (unique per call) when not given; the resends of `retries`
  // reuse it, so the daemon runs and charges the call once.
  std::optional<std::string> idempotency_key;
  std::optional<int64_t> timeout_ms;  // the daemon's deadline for the call
  std::vector<Tool> tools;
  std::optional<ToolChoice> tool_choice;
  std::vector<std::string> stop_sequences;
  std::optional<double> top_p;
  bool cache = false;
  // Client side: how many times to resend after a client_timeout (same
  // idempotency key, new id), and the wait for each reply (default:
  // Options::timeout). A stream waits this long for each message.
  int retries = 0;
  std::optional<std::chrono::milliseconds> client_timeout;
};

struct Usage {
  uint64_t input_tokens = 0, output_tokens = 0, total_tokens = 0;
  std::optional<uint64_t> cache_creation_input_tokens, cache_read_input_tokens;
};

struct Attempt {
  std::string provider, outcome, code;
  double latency_ms = 0;
};

struct CallResult {
  std::string text;
  std::vector<ContentBlock> content;
  std::string provider, model, reason, stop_reason;
  Usage usage;
  double cost_usd = 0;
  std::vector<Attempt> attempts;
  double latency_ms = 0;
  bool replayed = false, cached = false;
  std::string request_id;      // the id of the request that got this reply
  int sends = 1;               // 1 + the resends after client timeouts
  Value raw;                   // the whole reply
};

// One part of a streamed call (PROTOCOL.md section 9).
struct Chunk {
  std::string request_id;  // the call's id (a cancel() target)
  uint64_t part = 0;
  std::string type;        // text_delta, tool_use_start or input_json_delta
  uint64_t index = 0;
  std::string text;          // text_delta
  std::string id, name;      // tool_use_start
  std::string partial_json;  // input_json_delta
};

namespace detail {

inline Value block_value(const ContentBlock& b) {
  Value v;
  v["type"] = b.type;
  if (b.type == "text") {
    v["text"] = b.text;
  } else if (b.type == "image") {
    Value src;
    src["type"] = b.source_type;
    if (b.source_type == "url") {
      src["url"] = b.url;
    } else {
      src["media_type"] = b.media_type;
      src["data"] = b.data;
    }
    v["source"] = src;
  } else if (b.type == "tool_use") {
    v["id"] = b.id;
    v["name"] = b.name;
    v["input"] = b.input.is_null() ? Value(Value::Map{}) : b.input;
  } else if (b.type == "tool_result") {
    v["tool_use_id"] = b.tool_use_id;
    if (b.content.empty()) {
      v["content"] = b.content_text;
    } else {
      Value::Array parts;
      for (const ContentBlock& p : b.content) parts.push_back(block_value(p));
      v["content"] = Value(std::move(parts));
    }
    if (b.is_error) v["is_error"] = *b.is_error;
  }
  return v;
}

inline Value blocks_value(const std::vector<ContentBlock>& blocks) {
  Value::Array a;
  for (const ContentBlock& b : blocks) a.push_back(block_value(b));
  return Value(std::move(a));
}

inline void put_tools(Value& body, const CallOptions& o) {
  if (o.tools.empty()) return;
  Value::Array tools;
  for (const Tool& t : o.tools) {
    Value tv;
    tv["name"] = t.name;
    if (!t.description.empty()) tv["description"] = t.description;
    tv["input_schema"] = t.input_schema.is_null() ? Value(Value::Map{{"type", "object"}}) : t.input_schema;
    tools.push_back(std::move(tv));
  }
  body["tools"] = Value(std::move(tools));
}

// The request body of a call, without v, id and op. `key` is the
// idempotency key to send.
inline Value call_body(const CallOptions& o, const std::string& key, bool stream) {
  Value body;
  body["ai_name"] = o.ai_name;
  if (o.prompt) body["prompt"] = *o.prompt;
  if (!o.messages.empty()) {
    Value::Array msgs;
    for (const Message& m : o.messages) {
      Value mv;
      mv["role"] = m.role;
      mv["content"] = m.blocks.empty() ? Value(m.content) : blocks_value(m.blocks);
      msgs.push_back(std::move(mv));
    }
    body["messages"] = Value(std::move(msgs));
  }
  if (!o.system_blocks.empty()) {
    body["system"] = blocks_value(o.system_blocks);
  } else if (o.system) {
    body["system"] = *o.system;
  }
  if (o.max_tokens) body["max_tokens"] = *o.max_tokens;
  if (o.temperature) body["temperature"] = *o.temperature;
  if (o.preferred_provider) body["preferred_provider"] = *o.preferred_provider;
  if (o.model) body["model"] = *o.model;
  body["idempotency_key"] = key;
  if (o.timeout_ms) body["timeout_ms"] = *o.timeout_ms;
  put_tools(body, o);
  if (o.tool_choice) {
    Value tc;
    tc["type"] = o.tool_choice->type;
    if (!o.tool_choice->name.empty()) tc["name"] = o.tool_choice->name;
    body["tool_choice"] = tc;
  }
  if (!o.stop_sequences.empty()) {
    Value::Array stops(o.stop_sequences.begin(), o.stop_sequences.end());
    body["stop_sequences"] = Value(std::move(stops));
  }
  if (o.top_p) body["top_p"] = *o.top_p;
  if (stream) body["stream"] = true;
  if (o.cache) body["cache"] = true;
  return body;
}

inline ContentBlock block_from(const Value& v) {
  ContentBlock b;
  b.type = v["type"].as_string();
  b.text = v["text"].as_string();
  b.source_type = v["source"]["type"].as_string();
  b.media_type = v["source"]["media_type"].as_string();
  b.data = v["source"]["data"].as_string();
  b.url = v["source"]["url"].as_string();
  b.id = v["id"].as_string();
  b.name = v["name"].as_string();
  b.input = v["input"];
  b.tool_use_id = v["tool_use_id"].as_string();
  if (v["content"].is_string()) b.content_text = v["content"].as_string();
  for (const Value& p : v["content"].as_array()) b.content.push_back(block_from(p));
  if (v["is_error"].is_bool()) b.is_error = v["is_error"].as_bool();
  return b;
}

inline std::optional<uint64_t> optional_uint(const Value& v) {
  if (!v.is_int()) return std::nullopt;
  return v.as_uint();
}

// An ok call reply as a CallResult.
inline CallResult call_result_from(Value reply) {
  CallResult r;
  r.text = reply["text"].as_string();
  for (const Value& b : reply["content"].as_array()) r.content.push_back(block_from(b));
  r.provider = reply["provider"].as_string();
  r.model = reply["model"].as_string();
  r.reason = reply["reason"].as_string();
  r.stop_reason = reply["stop_reason"].as_string();
  const Value& u = reply["usage"];
  r.usage.input_tokens = u["input_tokens"].as_uint();
  r.usage.output_tokens = u["output_tokens"].as_uint();
  r.usage.total_tokens = u["total_tokens"].as_uint();
  r.usage.cache_creation_input_tokens = optional_uint(u["cache_creation_input_tokens"]);
  r.usage.cache_read_input_tokens = optional_uint(u["cache_read_input_tokens"]);
  r.cost_usd = reply["cost_usd"].as_double();
  for (const Value& a : reply["attempts"].as_array()) {
    r.attempts.push_back({a["provider"].as_string(), a["outcome"].as_string(), a["code"].as_string(),
                          a["latency_ms"].as_double()});
  }
  r.latency_ms = reply["latency_ms"].as_double();
  r.replayed = reply["replayed"].as_bool();
  r.cached = reply["cached"].as_bool();
  r.raw = std::move(reply);
  return r;
}

inline Chunk chunk_from(const Value& part, const std::string& request_id) {
  const Value& c = part["chunk"];
  Chunk k;
  k.request_id = request_id;
  k.part = part["part"].as_uint();
  k.type = c["type"].as_string();
  k.index = c["index"].as_uint();
  k.text = c["text"].as_string();
  k.id = c["id"].as_string();
  k.name = c["name"].as_string();
  k.partial_json = c["partial_json"].as_string();
  return k;
}

}  // namespace detail
}  // namespace tollgate
