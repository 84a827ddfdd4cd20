// Incremental server-sent events: the WHATWG event stream rules over bytes.
#include "workers/providers/sse_parser.h"

#include <algorithm>

namespace tollgate::workers {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

SseParser::SseParser(size_t max_event_bytes) : max_bytes_(max_event_bytes) {}

bool SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed()) return false;
  if (!started_) {
    // The BOM may itself arrive split: hold the first bytes until they
    // either are one or cannot be.
    const size_t take = std::min(bytes.size(), kBom.size() - head_.size());
    head_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (head_.size() < kBom.size() && kBom.substr(0, head_.size()) == head_) return true;
    started_ = true;
    std::string head = std::move(head_);
    head_.clear();
    if (std::string_view(head).substr(0, kBom.size()) == kBom) head.erase(0, kBom.size());
    scan(head, out);
  }
  scan(bytes, out);
  return !failed();
}

void SseParser::scan(std::string_view bytes, std::vector<SseEvent>& out) {
  while (!bytes.empty() && !failed()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      line_.append(bytes);
      if (line_.size() > max_bytes_) fail("line");
      return;
    }
    after_cr_ = bytes[end] == '\r';
    if (line_.empty()) {
      process_line(bytes.substr(0, end), out);
    } else {
      line_.append(bytes.substr(0, end));
      std::string line = std::move(line_);
      line_.clear();
      process_line(line, out);
    }
    bytes.remove_prefix(end + 1);
  }
}

void SseParser::process_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.size() > max_bytes_) return fail("line");
  if (line.empty()) return dispatch(out);
  if (line.front() == ':') return;  // a comment
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return process_field(line, {});
  std::string_view value = line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  process_field(line.substr(0, colon), value);
}

void SseParser::process_field(std::string_view field, std::string_view value) {
  if (field == "data") {
    if (data_.size() + value.size() + 1 > max_bytes_) return fail("event's data");
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  }
  // retry: this reader never reconnects; other fields are ignored by the rules.
}

void SseParser::dispatch(std::vector<SseEvent>& out) {
  if (data_.empty()) {
    event_.clear();
    return;
  }
  data_.pop_back();  // the '\n' after the last data line
  out.push_back(SseEvent{std::move(event_), std::move(data_), id_});
  event_.clear();
  data_.clear();
}

void SseParser::fail(std::string_view what) {
  error_ =
      "server-sent event " + std::string(what) + " over " + std::to_string(max_bytes_) + " bytes";
  line_.clear();
  line_.shrink_to_fit();
  data_.clear();
  data_.shrink_to_fit();
}

}  // namespace tollgate::workers
