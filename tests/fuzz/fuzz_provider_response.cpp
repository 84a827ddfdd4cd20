// libFuzzer target: arbitrary provider answers. Built twice, for the
// Anthropic and the OpenAI adapter (TOLLGATE_FUZZ_API, the adapter's name
// in the registry). parse_response must return a value for any status,
// headers and body (never crash, throw or hang), and what it returns must
// be safe to charge and to show: counts within kMaxReportedTokens, a
// one-line message without the key, a non-negative retry hint.
//
// Input layout: byte 0 picks the HTTP status, byte 1 which headers are
// present; each present header takes the bytes up to the next '\n' as its
// value; the rest is the body.
//
// The body is also read as a request in the adapter's format (the HTTP
// ingress will read them): reading must return a value, never throw, and
// what it reads must translate to both formats and, written back in its
// own format, read again. A reply read as kOk keeps tool inputs as JSON
// objects and writes back to its own format readably.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/anthropic_format.h"
#include "protocol/openai_format.h"
#include "workers/providers/adapter_registry.h"

namespace protocol = tollgate::protocol;
namespace workers = tollgate::workers;

namespace {

constexpr std::array<long, 16> kStatuses = {200, 201, 204, 400, 401, 403, 404, 408,
                                            413, 429, 500, 502, 503, 504, 529, 302};
constexpr std::array<const char*, 5> kHeaders = {"retry-after", "retry-after-ms",
                                                 "anthropic-ratelimit-requests-reset",
                                                 "x-ratelimit-reset-tokens", "x-should-retry"};
constexpr std::string_view kKey = "sk-fuzz-key-0123456789abcdef";
constexpr int64_t kNow = 1'795'000'000'000;  // 2026-11

std::string_view take_line(std::string_view& in) {
  auto nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

constexpr bool kAnthropic = std::string_view(TOLLGATE_FUZZ_API) == "anthropic";

// The body as a request body in the adapter's format.
void fuzz_request(std::string_view body) {
  const auto json = protocol::JsonValue::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return;
  auto parts = kAnthropic ? protocol::parse_anthropic_request(json) : protocol::parse_openai_request(json);
  if (!parts.ok()) {
    if (parts.error().message.empty()) std::abort();
    return;
  }
  const auto anthropic = protocol::anthropic_request(*parts);
  const auto openai = protocol::openai_request(*parts);
  (void)protocol::anthropic_unsupported(parts->messages, false);
  (void)protocol::openai_unsupported(parts->messages, false);
  auto again = kAnthropic ? protocol::parse_anthropic_request(anthropic) : protocol::parse_openai_request(openai);
  if (!again.ok()) std::abort();
}

// A reply read as a success: tool inputs are objects, and it writes back.
void check_reply(const workers::ProviderReply& reply) {
  protocol::ChatReply neutral;
  neutral.content = reply.content;
  neutral.stop_reason = reply.stop_reason;
  for (const auto& b : reply.content) {
    if (b.type == protocol::ContentBlock::Type::kToolUse && !b.input.is_object()) std::abort();
  }
  const auto written = kAnthropic ? protocol::anthropic_response(neutral) : protocol::openai_response(neutral, 0);
  auto again = kAnthropic ? protocol::parse_anthropic_response(written) : protocol::parse_openai_response(written);
  if (!again.ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const long status = kStatuses[static_cast<uint8_t>(in[0]) % kStatuses.size()];
  const auto present = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  workers::HttpHeaders headers;
  for (size_t i = 0; i < kHeaders.size(); ++i) {
    if (present & (1u << i)) headers[kHeaders[i]] = std::string(take_line(in));
  }
  static const workers::ProviderAdapter* const adapter =
      workers::AdapterRegistry::builtin().find(TOLLGATE_FUZZ_API);
  if (adapter == nullptr) std::abort();
  const auto result = adapter->parse_response(status, headers, in, kNow, kKey);
  fuzz_request(in);

  using Status = workers::ProviderResult::Status;
  if (result.status == Status::kOk) {
    // Anthropic adds three input counts, each at most 2^40.
    if (result.reply.input_tokens > 3 * (uint64_t{1} << 40)) std::abort();
    if (result.reply.output_tokens > (uint64_t{1} << 40)) std::abort();
  }
  if (result.status != Status::kFailed) {
    if (status < 200 || status > 299) std::abort();  // only a 2xx is a success
    check_reply(result.reply);
    return 0;
  }
  const auto& f = result.failure;
  if (f.message.find('\n') != std::string::npos) std::abort();
  if (f.message.find(kKey) != std::string::npos) std::abort();
  if (f.retry_after_ms && *f.retry_after_ms < 0) std::abort();
  if (status >= 200 && status <= 299 && f.kind != workers::FailureKind::kInvalidResponse) std::abort();
  return 0;
}
