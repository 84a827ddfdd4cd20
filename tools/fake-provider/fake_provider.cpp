#include "tools/fake-provider/fake_provider.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <memory>
#include <random>

#include "tools/fake-provider/fake_stream.h"
#include "tools/fake-provider/fake_tools.h"
#include "tools/fake-provider/stream_writer.h"

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
// Exactly this (no charset): httplib gzips other text/* answers for a
// client that accepts gzip, and its compressor holds bytes back.
constexpr const char* kEventStream = "text/event-stream";

// Shuts down the TCP connection with these local and remote ports, so the
// client sees the connection closed with no answer (httplib's handlers get
// no socket; the 4-tuple identifies it among this process's descriptors).
bool shutdown_connection(int local_port, int remote_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return false;
  bool done = false;
  while (dirent* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2) continue;
    sockaddr_storage local{}, peer{};
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) continue;
    auto port_of = [](const sockaddr_storage& a) {
      if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
      if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
      return uint16_t{0};
    };
    if (port_of(local) == local_port && port_of(peer) == remote_port) {
      ::shutdown(fd, SHUT_RDWR);
      done = true;
      break;
    }
  }
  closedir(dir);
  return done;
}

}  // namespace

namespace {

// 8 hex digits, different for each fake process.
std::string random_instance() {
  std::random_device device;
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(device()));
  return text;
}

}  // namespace

FakeProvider::FakeProvider(FakeProviderOptions options)
    : options_(std::move(options)), instance_(random_instance()) {}

void FakeProvider::install(httplib::Server& server) {
  server.Post("/v1/messages", [this](const httplib::Request& req, httplib::Response& res) {
    handle_call("anthropic", req, res);
  });
  server.Post("/v1/messages/count_tokens",
              [this](const httplib::Request& req, httplib::Response& res) { handle_count(req, res); });
  auto openai = [this](const httplib::Request& req, httplib::Response& res) {
    handle_call("openai", req, res);
  };
  server.Post("/v1/chat/completions", openai);
  server.Post("/chat/completions", openai);

  server.Post("/_control/faults", [this](const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    std::string error;
    auto list = body.is_discarded() ? std::nullopt : parse_faults(body, error);
    if (!list) {
      res.status = 400;
      res.set_content(dump({{"error", body.is_discarded() ? "body is not JSON" : error}}), kJson);
      return;
    }
    faults_.replace(std::move(*list));
    res.set_content(dump({{"ok", true}, {"faults", faults_.to_json()}}), kJson);
  });
  server.Get("/_control/faults", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(faults_.to_json()), kJson);
  });
  server.Delete("/_control/faults", [this](const httplib::Request&, httplib::Response& res) {
    faults_.clear();
    res.set_content(dump({{"ok", true}}), kJson);
  });
  server.Get("/_control/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(stats_json()), kJson);
  });
  server.Post("/_control/reset", [this](const httplib::Request&, httplib::Response& res) {
    reset_stats();
    res.set_content(dump({{"ok", true}}), kJson);
  });
  server.Get("/_control/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump({{"ok", true}}), kJson);
  });
}

void FakeProvider::handle_call(const std::string& api, const httplib::Request& req,
                               httplib::Response& res) {
  CheckResult checked = api == "anthropic"
                            ? check_anthropic(req, options_.api_key, options_.no_auth)
                            : check_openai(req, options_.api_key, options_.no_auth);
  if (auto* error = std::get_if<ApiError>(&checked)) {
    count(api, 0, 0, true);
    send_error(api, *error, std::nullopt, res);
    return;
  }
  const ParsedCall& call = std::get<ParsedCall>(checked);
  Fault fault = faults_.next(api, call.stream).value_or(Fault{});
  if (fault.delay_ms > 0) delay(fault.delay_ms);
  if (fault.drop) {
    count(api, 0, 0, true);
    if (!shutdown_connection(req.local_port, req.remote_port)) {
      // Not found: the best substitute is headers with no body.
      res.set_content_provider(1, kJson, [](size_t, size_t, httplib::DataSink&) { return false; });
    }
    return;
  }
  if (fault.insufficient_quota) {
    count(api, 0, 0, true);
    send_error(api, out_of_credit_error(api), fault.retry_after_s, res);
    return;
  }
  if (fault.status != 0) {
    count(api, 0, 0, true);
    send_error(api, status_error(api, fault.status), fault.retry_after_s, res);
    return;
  }
  if (fault.invalid_json) {
    count(api, 0, 0, true);
    res.set_content(R"({"id": "broken", "content": [{"type": "te)", kJson);
    return;
  }
  if (call.stream) {
    answer_stream(api, call, fault, res);
  } else {
    answer_success(api, call, fault, req, res);
  }
}

uint64_t FakeProvider::input_tokens(const PromptSize& size) const {
  const uint64_t text = options_.tokenizer == "chars"
                            ? std::max<uint64_t>(1, size.chars + 3 * size.messages + 3)
                            : std::max<uint64_t>(1, (size.bytes + 3) / 4);
  return text + size.fixed_tokens;
}

void FakeProvider::handle_count(const httplib::Request& req, httplib::Response& res) {
  CheckResult checked = check_anthropic(req, options_.api_key, options_.no_auth, /*count=*/true);
  if (auto* error = std::get_if<ApiError>(&checked)) {
    send_error("anthropic", *error, std::nullopt, res);
    return;
  }
  const ParsedCall& call = std::get<ParsedCall>(checked);
  const uint64_t tokens = input_tokens(call.size);
  {
    MutexLock lock(mu_);
    ++anthropic_.count_requests;
  }
  res.set_content(dump({{"input_tokens", tokens}}), kJson);
}

ReplySpec FakeProvider::build_reply(const std::string& api, const ParsedCall& call,
                                    const Fault& fault, uint64_t id) {
  ReplySpec spec;
  spec.model = call.model;
  const ToolPlan plan = plan_tool_calls(call);
  for (size_t i = 0; i < plan.calls.size(); ++i) {
    const std::string unique = instance_ + "_" + std::to_string(id) + "_" + std::to_string(i + 1);
    spec.tool_calls.push_back({(api == "anthropic" ? "toolu_" : "call_") + unique,
                               plan.calls[i].name, plan.calls[i].input});
    if (plan.from_markers) spec.text += (i == 0 ? "calling " : ", ") + plan.calls[i].name;
  }
  if (plan.calls.empty()) {
    std::string text = answer_text(call);
    if (fault.body_bytes && text.size() < *fault.body_bytes) text.resize(*fault.body_bytes, 'x');
    StopCut cut = cut_at_stop(text, call.stop_sequences);
    spec.text = std::move(cut.text);
    spec.stop_sequence = cut.sequence;
    if (cut.sequence) spec.stop_reason = "stop_sequence";
  } else {
    spec.stop_reason = "tool_use";
  }
  spec.input_tokens = input_tokens(call.size);
  std::vector<CachedPrefix> prefixes;
  prefixes.reserve(call.cache_points.size());
  for (const auto& point : call.cache_points) prefixes.push_back({point.hash, input_tokens(point.size)});
  if (api == "anthropic") {
    const CacheUsage cache = anthropic_cache_.anthropic(prefixes);
    spec.cache_read_input_tokens = cache.read;
    spec.cache_creation_input_tokens = cache.creation;
    spec.input_tokens -= std::min(spec.input_tokens, cache.read + cache.creation);
  } else {
    spec.cached_tokens = openai_cache_.openai(prefixes).read;
  }
  spec.output_tokens = fault.output_tokens.value_or(options_.output_tokens);
  if (call.max_tokens) spec.output_tokens = std::min(spec.output_tokens, *call.max_tokens);
  spec.output_tokens += fault.extra_output_tokens;
  spec.with_usage = !fault.no_usage;
  spec.created_s = static_cast<int64_t>(std::time(nullptr));
  return spec;
}

ReplySpec FakeProvider::identified_reply(const std::string& api, const ParsedCall& call,
                                         const Fault& fault, httplib::Response& res) {
  const uint64_t id = next_id_.fetch_add(1);
  ReplySpec spec = build_reply(api, call, fault, id);
  if (api == "anthropic") {
    spec.id = "msg_fake_" + std::to_string(id);
    res.set_header("request-id", "req_fake_" + std::to_string(id));
  } else {
    spec.id = "chatcmpl-fake-" + std::to_string(id);
    res.set_header("x-request-id", "req_fake_" + std::to_string(id));
  }
  return spec;
}

void FakeProvider::answer_success(const std::string& api, const ParsedCall& call,
                                  const Fault& fault, const httplib::Request&,
                                  httplib::Response& res) {
  const ReplySpec spec = identified_reply(api, call, fault, res);
  auto body = std::make_shared<std::string>(
      dump(api == "anthropic" ? anthropic_reply(spec) : openai_reply(spec)));
  if (fault.truncate) {
    count(api, 0, 0, true);
    size_t half = body->size() / 2;
    res.set_content_provider(body->size(), kJson,
                             [body, half](size_t offset, size_t, httplib::DataSink& sink) {
                               if (offset >= half) return false;  // abort: connection closes
                               sink.write(body->data() + offset, half - offset);
                               return true;
                             });
    return;
  }
  const uint64_t all_input =
      spec.input_tokens + spec.cache_creation_input_tokens + spec.cache_read_input_tokens;
  count(api, all_input, spec.output_tokens, false);
  res.set_content(*body, kJson);
}

void FakeProvider::answer_stream(const std::string& api, const ParsedCall& call,
                                 const Fault& fault, httplib::Response& res) {
  const ReplySpec spec = identified_reply(api, call, fault, res);
  std::vector<WireEvent> events =
      api == "anthropic" ? anthropic_stream(spec) : openai_stream(spec, call.include_usage);
  const StreamFaults faults = StreamFaults::from(fault, events.size());
  const uint64_t all_input =
      spec.input_tokens + spec.cache_creation_input_tokens + spec.cache_read_input_tokens;
  {
    MutexLock lock(mu_);
    ApiStats& s = api == "anthropic" ? anthropic_ : openai_;
    ++s.requests;
    ++s.streams;
  }
  auto writer = std::make_shared<StreamWriter>(
      std::move(events), stream_error_event(api), faults, [this](int ms) { return delay(ms); },
      [this, api, all_input, out = spec.output_tokens](const StreamOutcome& outcome) {
        count_stream(api, all_input, out, outcome);
      });
  res.set_chunked_content_provider(
      kEventStream, [writer](size_t, httplib::DataSink& sink) { return writer->step(sink); },
      [writer](bool) { writer->release(); });
}

void FakeProvider::send_error(const std::string& api, const ApiError& error,
                              const std::optional<int>& retry_after_s, httplib::Response& res) {
  res.status = error.status;
  if (retry_after_s) res.set_header("retry-after", std::to_string(*retry_after_s));
  if (api == "anthropic") res.set_header("x-should-retry", error.status >= 500 || error.status == 429 ? "true" : "false");
  res.set_content(dump(error.body), kJson);
}

bool FakeProvider::delay(int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  MutexLock lock(mu_);
  while (!shutting_down_) {
    if (!shutdown_cv_.wait_until(deadline)) return true;  // the delay is over
  }
  return false;
}

void FakeProvider::count(const std::string& api, uint64_t in, uint64_t out, bool error) {
  MutexLock lock(mu_);
  ApiStats& s = api == "anthropic" ? anthropic_ : openai_;
  ++s.requests;
  s.input_tokens += in;
  s.output_tokens += out;
  if (error) ++s.errors;
}

void FakeProvider::count_stream(const std::string& api, uint64_t in, uint64_t out,
                                const StreamOutcome& outcome) {
  MutexLock lock(mu_);
  ApiStats& s = api == "anthropic" ? anthropic_ : openai_;
  if (outcome.complete) {
    s.input_tokens += in;
    s.output_tokens += out;
    return;
  }
  ++s.errors;
  ++s.streams_cut;
  if (outcome.client_closed) ++s.streams_client_closed;
  s.stream_input_tokens += in;
  s.stream_output_tokens_sent += outcome.output_tokens_sent;
}

json FakeProvider::stats_json() const {
  MutexLock lock(mu_);
  auto one = [](const ApiStats& s) {
    return json{{"requests", s.requests},
                {"count_requests", s.count_requests},
                {"input_tokens", s.input_tokens},
                {"output_tokens", s.output_tokens},
                {"errors", s.errors},
                {"streams", s.streams},
                {"streams_cut", s.streams_cut},
                {"streams_client_closed", s.streams_client_closed},
                {"stream_input_tokens", s.stream_input_tokens},
                {"stream_output_tokens_sent", s.stream_output_tokens_sent}};
  };
  return {{"anthropic", one(anthropic_)}, {"openai", one(openai_)}};
}

void FakeProvider::reset_stats() {
  anthropic_cache_.clear();
  openai_cache_.clear();
  MutexLock lock(mu_);
  anthropic_ = {};
  openai_ = {};
}

void FakeProvider::shutdown() {
  {
    MutexLock lock(mu_);
    shutting_down_ = true;
  }
  shutdown_cv_.signal_all();
}

}  // namespace tollgate::fake_provider
