// Helpers for the streamed-answer tests: a fixture stream's bytes, and a
// stream run through SseParser, an adapter's parse_stream_event and a
// StreamAccumulator, fed in chunks cut where the test says.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "workers/providers/provider_adapter.h"
#include "workers/providers/sse_parser.h"
#include "workers/providers/stream_accumulator.h"

#ifndef TOLLGATE_STREAM_FIXTURES
#error "TOLLGATE_STREAM_FIXTURES must name tests/unit/fixtures/streams"
#endif

namespace tollgate::workers::testing {

inline std::string stream_fixture(const std::string& name) {
  std::ifstream in(std::string(TOLLGATE_STREAM_FIXTURES) + "/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Streamed {
  std::vector<StreamPart> parts;
  ProviderResult result;
  bool done = false;
  bool usage_reported = false;
  std::optional<uint64_t> input_tokens;
};

// `bytes` fed to one parser in pieces ending at each of `cuts` (ascending
// offsets), then the rest.
inline Streamed run_stream(const ProviderAdapter& adapter, std::string_view bytes,
                           const std::vector<size_t>& cuts = {}) {
  SseParser parser;
  StreamAccumulator acc;
  Streamed s;
  std::vector<SseEvent> events;
  size_t from = 0;
  auto feed = [&](size_t to) {
    parser.feed(bytes.substr(from, to - from), events);
    for (const SseEvent& e : events) acc.add(adapter.parse_stream_event(e.event, e.data), s.parts);
    events.clear();
    from = to;
  };
  for (size_t cut : cuts) feed(cut);
  feed(bytes.size());
  s.result = acc.result();
  s.done = acc.done();
  s.usage_reported = acc.usage_reported();
  s.input_tokens = acc.input_tokens();
  return s;
}

// Every offset: a stream fed one byte at a time.
inline std::vector<size_t> every_byte(std::string_view bytes) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < bytes.size(); ++i) cuts.push_back(i);
  return cuts;
}

}  // namespace tollgate::workers::testing
