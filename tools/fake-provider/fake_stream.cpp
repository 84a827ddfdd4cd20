#include "tools/fake-provider/fake_stream.h"

#include <algorithm>

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;

constexpr size_t kMaxTextPiece = 64;
constexpr size_t kJsonPiece = 8;

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The largest end <= `end` that does not split a UTF-8 character and is
// past `start` (start < end); past `end` only when no such end exists
// (bytes that are not UTF-8).
size_t piece_end(std::string_view s, size_t start, size_t end) {
  if (end >= s.size()) return s.size();
  size_t at = end;
  while (at > start && continuation(s[at])) --at;
  if (at > start) return at;
  for (at = end; at < s.size() && continuation(s[at]);) ++at;
  return at;
}

// The events of one stream as they are built: content deltas and the stop
// event are marked, and get their output counts at the end.
class EventList {
 public:
  void add(std::string bytes) { events_.push_back({std::move(bytes), Kind::kOther}); }
  void add_delta(std::string bytes) { events_.push_back({std::move(bytes), Kind::kDelta}); }
  void add_stop(std::string bytes) { events_.push_back({std::move(bytes), Kind::kStop}); }

  std::vector<WireEvent> finish(uint64_t output_tokens) && {
    const uint64_t deltas = static_cast<uint64_t>(std::count_if(
        events_.begin(), events_.end(), [](const Pending& p) { return p.kind == Kind::kDelta; }));
    std::vector<WireEvent> out;
    out.reserve(events_.size());
    uint64_t seen = 0;
    uint64_t sofar = 0;
    for (Pending& p : events_) {
      if (p.kind == Kind::kDelta) sofar = (output_tokens * ++seen + deltas - 1) / deltas;
      if (p.kind == Kind::kStop) sofar = output_tokens;
      out.push_back({std::move(p.bytes), sofar});
    }
    return out;
  }

 private:
  enum class Kind { kOther, kDelta, kStop };
  struct Pending {
    std::string bytes;
    Kind kind;
  };
  std::vector<Pending> events_;
};

// Anthropic: `event: TYPE` and the data whose type it is.
std::string named(const json& data) {
  return "event: " + data["type"].get<std::string>() + "\ndata: " + dump(data) + "\n\n";
}

json message_start(const ReplySpec& s) {
  json usage = {{"input_tokens", s.input_tokens}};
  if (s.cache_creation_input_tokens > 0) {
    usage["cache_creation_input_tokens"] = s.cache_creation_input_tokens;
  }
  if (s.cache_read_input_tokens > 0) usage["cache_read_input_tokens"] = s.cache_read_input_tokens;
  usage["output_tokens"] = std::min<uint64_t>(1, s.output_tokens);
  json message = {{"id", s.id},
                  {"type", "message"},
                  {"role", "assistant"},
                  {"model", s.model},
                  {"content", json::array()},
                  {"stop_reason", nullptr},
                  {"stop_sequence", nullptr},
                  {"usage", usage}};
  return {{"type", "message_start"}, {"message", message}};
}

json block_delta(size_t index, const json& delta) {
  return {{"type", "content_block_delta"}, {"index", index}, {"delta", delta}};
}

// One content block: start, its deltas, stop; the ping after the first start.
void anthropic_block(EventList& list, size_t index, const json& block,
                     const std::vector<json>& deltas) {
  list.add(named({{"type", "content_block_start"}, {"index", index}, {"content_block", block}}));
  if (index == 0) list.add(named({{"type", "ping"}}));
  for (const json& d : deltas) list.add_delta(named(block_delta(index, d)));
  list.add(named({{"type", "content_block_stop"}, {"index", index}}));
}

// OpenAI: a chunk with one choice holding `delta`.
class ChunkMaker {
 public:
  ChunkMaker(const ReplySpec& s, bool include_usage) : spec_(s), include_usage_(include_usage) {}

  std::string choice(const json& delta, const json& finish_reason = nullptr) const {
    json c = {
        {"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
    json chunk = base();
    chunk["choices"] = json::array({c});
    if (include_usage_) chunk["usage"] = nullptr;
    return data(chunk);
  }
  std::string usage() const {
    json chunk = base();
    chunk["choices"] = json::array();
    chunk["usage"] = openai_usage(spec_);
    return data(chunk);
  }
  static std::string data(const json& j) { return "data: " + dump(j) + "\n\n"; }

 private:
  json base() const {
    return {{"id", spec_.id},
            {"object", "chat.completion.chunk"},
            {"created", spec_.created_s},
            {"model", spec_.model}};
  }

  const ReplySpec& spec_;
  const bool include_usage_;
};

}  // namespace

std::vector<std::string> text_pieces(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.find(' ', start + 1), text.size());
    end = piece_end(text, start, std::min(end, start + kMaxTextPiece));
    out.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

std::vector<std::string> json_pieces(std::string_view json_text) {
  std::vector<std::string> out;
  for (size_t start = 0; start < json_text.size();) {
    const size_t end = piece_end(json_text, start, start + kJsonPiece);
    out.emplace_back(json_text.substr(start, end - start));
    start = end;
  }
  return out;
}

std::vector<WireEvent> anthropic_stream(const ReplySpec& s) {
  EventList list;
  list.add(named(message_start(s)));
  size_t index = 0;
  if (!s.text.empty()) {
    std::vector<json> deltas;
    for (auto& piece : text_pieces(s.text))
      deltas.push_back({{"type", "text_delta"}, {"text", piece}});
    anthropic_block(list, index++, {{"type", "text"}, {"text", ""}}, deltas);
  }
  for (const auto& call : s.tool_calls) {
    std::vector<json> deltas = {{{"type", "input_json_delta"}, {"partial_json", ""}}};
    for (auto& piece : json_pieces(dump(call.input))) {
      deltas.push_back({{"type", "input_json_delta"}, {"partial_json", piece}});
    }
    const json block = {
        {"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", json::object()}};
    anthropic_block(list, index++, block, deltas);
  }
  if (index == 0) list.add(named({{"type", "ping"}}));
  json delta = {{"type", "message_delta"},
                {"delta",
                 {{"stop_reason", s.stop_reason},
                  {"stop_sequence", s.stop_sequence ? json(*s.stop_sequence) : json(nullptr)}}}};
  if (s.with_usage) delta["usage"] = {{"output_tokens", s.output_tokens}};
  list.add_stop(named(delta));
  list.add(named({{"type", "message_stop"}}));
  return std::move(list).finish(s.output_tokens);
}

std::vector<WireEvent> openai_stream(const ReplySpec& s, bool include_usage) {
  const ChunkMaker chunk(s, include_usage);
  EventList list;
  const bool text = !s.text.empty() || s.tool_calls.empty();
  list.add(chunk.choice(
      {{"role", "assistant"}, {"content", text ? json("") : json(nullptr)}, {"refusal", nullptr}}));
  for (auto& piece : text_pieces(s.text)) list.add_delta(chunk.choice({{"content", piece}}));
  for (size_t i = 0; i < s.tool_calls.size(); ++i) {
    const ReplyToolCall& call = s.tool_calls[i];
    const json first = {{"index", i},
                        {"id", call.id},
                        {"type", "function"},
                        {"function", {{"name", call.name}, {"arguments", ""}}}};
    list.add(chunk.choice({{"tool_calls", json::array({first})}}));
    for (auto& piece : json_pieces(dump(call.input))) {
      const json more = {{"index", i}, {"function", {{"arguments", piece}}}};
      list.add_delta(chunk.choice({{"tool_calls", json::array({more})}}));
    }
  }
  list.add_stop(chunk.choice(json::object(), openai_finish_reason(s.stop_reason)));
  if (include_usage && s.with_usage) list.add(chunk.usage());
  list.add("data: [DONE]\n\n");
  return std::move(list).finish(s.output_tokens);
}

std::string stream_error_event(const std::string& api) {
  if (api == "anthropic") {
    return named(
        {{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}});
  }
  const json error = {
      {"message", "The server had an error while processing your request. Sorry about that!"},
      {"type", "server_error"},
      {"code", nullptr}};
  return ChunkMaker::data({{"error", error}});
}

}  // namespace tollgate::fake_provider
