// A streamed call to the fake-provider binary, read the way tollgated
// reads one: the bytes fed as they arrive to an SseParser, each event to
// the API's adapter (parse_stream_event) and a StreamAccumulator. Also
// what the transfer looked like: status, content type, the bytes, the
// largest single read, when the first and last bytes came.
#pragma once

#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/fake_provider_client.h"
#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"
#include "workers/providers/sse_parser.h"
#include "workers/providers/stream_accumulator.h"

namespace tollgate::testing {

using Clock = std::chrono::steady_clock;

struct StreamRead {
  int status = 0;
  std::string content_type;
  bool transfer_ok = false;  // the HTTP answer ended cleanly (not closed mid-way)
  std::string bytes;         // every byte of the body received
  size_t largest_read = 0;   // the most bytes one read gave
  std::vector<workers::SseEvent> events;
  std::vector<workers::StreamPart> parts;
  workers::ProviderResult result;  // StreamAccumulator::result()
  bool done = false;
  bool failed = false;
  bool usage_reported = false;
  std::optional<uint64_t> input_tokens;
  Clock::duration first_byte{};  // from the request to the first byte of the body
  Clock::duration total{};       // from the request to the end
};

inline const workers::ProviderAdapter& adapter_for(const std::string& path) {
  static const workers::AnthropicAdapter anthropic;
  static const workers::OpenAiAdapter openai;
  if (path.find("/messages") != std::string::npos) return anthropic;
  return openai;
}

struct StreamOptions {
  std::optional<size_t> stop_after;  // the client closes once it has this many bytes
  std::chrono::seconds read_timeout{30};
  // Called after each read with the number of events so far (from the
  // client's thread; no Catch2 assertions in it).
  std::function<void(size_t)> on_events;
};

// POSTs `body` to `path` and reads the answer as a stream.
inline StreamRead stream_call(int port, const std::string& path, const nlohmann::json& body,
                              const StreamOptions& options = {}) {
  const workers::ProviderAdapter& adapter = adapter_for(path);
  const bool anthropic = path.find("/messages") != std::string::npos;
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(options.read_timeout);
  workers::SseParser parser;
  workers::StreamAccumulator acc;
  StreamRead s;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = anthropic ? anthropic_headers() : openai_headers();
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  const auto start = Clock::now();
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (s.bytes.empty()) s.first_byte = Clock::now() - start;
    s.bytes.append(data, n);
    s.largest_read = std::max(s.largest_read, n);
    std::vector<workers::SseEvent> events;
    parser.feed(std::string_view(data, n), events);
    for (const auto& e : events) acc.add(adapter.parse_stream_event(e.event, e.data), s.parts);
    s.events.insert(s.events.end(), events.begin(), events.end());
    if (options.on_events) options.on_events(s.events.size());
    return !options.stop_after || s.bytes.size() < *options.stop_after;
  };
  httplib::Result res = client.send(req);
  s.total = Clock::now() - start;
  s.transfer_ok = static_cast<bool>(res);
  if (res) {
    s.status = res->status;
    s.content_type = res->get_header_value("Content-Type");
  }
  s.result = acc.result();
  s.done = acc.done();
  s.failed = acc.failed();
  s.usage_reported = acc.usage_reported();
  s.input_tokens = acc.input_tokens();
  return s;
}

// The same request not streamed, read by the adapter's parse_response.
inline workers::ProviderResult whole_call(int port, const std::string& path, nlohmann::json body) {
  body.erase("stream");
  body.erase("stream_options");
  httplib::Client client("127.0.0.1", port);
  const bool anthropic = path.find("/messages") != std::string::npos;
  auto r = post(client, path, anthropic ? anthropic_headers() : openai_headers(), body);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return adapter_for(path).parse_response(200, {}, r->body, 0);
}

// Waits (bounded) until the fake's stats satisfy `pred`, asking again after
// each answer: for what the fake counts after the client saw the end (a
// client that went away). Returns the last stats.
inline nlohmann::json stats_when(int port, const std::function<bool(const nlohmann::json&)>& pred,
                                 std::chrono::seconds bound = std::chrono::seconds(10)) {
  httplib::Client client("127.0.0.1", port);
  const auto deadline = Clock::now() + bound;
  nlohmann::json s = stats(client);
  while (!pred(s) && Clock::now() < deadline) s = stats(client);
  return s;
}

}  // namespace tollgate::testing
