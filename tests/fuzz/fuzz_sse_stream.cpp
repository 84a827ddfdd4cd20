// libFuzzer target: arbitrary bytes as a streamed provider answer, split
// at arbitrary points. The bytes go through SseParser (with a small limit,
// so the limit is reached too) and every event through both adapters'
// parse_stream_event and a StreamAccumulator each. What comes out must not
// depend on the splits: the same events, the same parser failure, the same
// parts and the same result, as when the bytes arrive whole. And it must be
// safe to send and to charge: parts name blocks of the reply, each text
// block is its text parts joined, a tool start names its block, tool
// inputs are JSON objects, failure messages are one line.
//
// Input layout: byte 0 is the number of splits n (mod 16); the next 2n
// bytes are the split offsets (little-endian, mod the stream's size,
// sorted); the rest is the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "workers/providers/adapter_registry.h"
#include "workers/providers/sse_parser.h"
#include "workers/providers/stream_accumulator.h"

namespace workers = tollgate::workers;

namespace {

constexpr size_t kMaxEventBytes = 2048;

struct Run {
  std::vector<workers::SseEvent> events;
  bool parser_failed = false;
  std::vector<workers::StreamPart> parts[2];
  workers::ProviderResult results[2];
};

Run run(std::string_view stream, const std::vector<size_t>& cuts) {
  static const workers::ProviderAdapter* const adapters[2] = {
      workers::AdapterRegistry::builtin().find("anthropic"),
      workers::AdapterRegistry::builtin().find("openai")};
  if (adapters[0] == nullptr || adapters[1] == nullptr) std::abort();
  Run r;
  workers::SseParser parser(kMaxEventBytes);
  workers::StreamAccumulator accumulators[2];
  size_t from = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t to = i < cuts.size() ? cuts[i] : stream.size();
    const size_t first = r.events.size();
    parser.feed(stream.substr(from, to - from), r.events);
    from = to;
    for (size_t e = first; e < r.events.size(); ++e) {
      for (int a = 0; a < 2; ++a) {
        accumulators[a].add(adapters[a]->parse_stream_event(r.events[e].event, r.events[e].data),
                            r.parts[a]);
      }
    }
  }
  r.parser_failed = parser.failed();
  for (int a = 0; a < 2; ++a) r.results[a] = accumulators[a].result();
  return r;
}

bool same(const workers::ProviderResult& x, const workers::ProviderResult& y) {
  return x.status == y.status && x.reply.text == y.reply.text && x.reply.model == y.reply.model &&
         x.reply.content == y.reply.content && x.reply.stop_reason == y.reply.stop_reason &&
         x.reply.input_tokens == y.reply.input_tokens &&
         x.reply.output_tokens == y.reply.output_tokens && x.failure.kind == y.failure.kind &&
         x.failure.message == y.failure.message;
}

// Safe to send and to charge.
void check(const std::vector<workers::StreamPart>& parts, const workers::ProviderResult& result) {
  if (result.status == workers::ProviderResult::Status::kFailed) {
    if (result.failure.message.find('\n') != std::string::npos) std::abort();
    return;
  }
  const auto& content = result.reply.content;
  std::vector<std::string> text(content.size());
  for (const auto& p : parts) {
    if (p.index >= content.size()) std::abort();
    const auto& block = content[p.index];
    const bool tool = block.type == tollgate::protocol::ContentBlock::Type::kToolUse;
    if (tool != (p.type != workers::StreamPart::Type::kTextDelta)) std::abort();
    if (p.type == workers::StreamPart::Type::kToolUseStart &&
        (p.id != block.id || p.name != block.name)) {
      std::abort();
    }
    if (p.type == workers::StreamPart::Type::kTextDelta) text[p.index] += p.text;
  }
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i].type == tollgate::protocol::ContentBlock::Type::kText &&
        text[i] != content[i].text) {
      std::abort();
    }
  }
  for (const auto& b : content) {
    if (b.type == tollgate::protocol::ContentBlock::Type::kToolUse && !b.input.is_object())
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t n = static_cast<uint8_t>(in[0]) % 16;
  in.remove_prefix(1);
  if (in.size() < 2 * n) return 0;
  std::vector<size_t> offsets;
  for (size_t i = 0; i < n; ++i) {
    offsets.push_back(static_cast<uint8_t>(in[2 * i]) |
                      (static_cast<size_t>(static_cast<uint8_t>(in[2 * i + 1])) << 8));
  }
  in.remove_prefix(2 * n);
  for (size_t& o : offsets) o = in.empty() ? 0 : o % (in.size() + 1);
  std::sort(offsets.begin(), offsets.end());

  const Run whole = run(in, {});
  const Run split = run(in, offsets);
  if (whole.events != split.events || whole.parser_failed != split.parser_failed) std::abort();
  for (int a = 0; a < 2; ++a) {
    if (whole.parts[a] != split.parts[a] || !same(whole.results[a], split.results[a])) std::abort();
    check(whole.parts[a], whole.results[a]);
  }
  return 0;
}
