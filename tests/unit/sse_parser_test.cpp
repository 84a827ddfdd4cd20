// SseParser: every rule of the event stream format, fed whole, byte by byte
// and split at every point.
#include "workers/providers/sse_parser.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using tollgate::workers::SseEvent;
using tollgate::workers::SseParser;

namespace {

// The events of `bytes` fed in pieces of `step` bytes (0: whole).
std::vector<SseEvent> parse(std::string_view bytes, size_t step = 0) {
  SseParser parser;
  std::vector<SseEvent> out;
  if (step == 0) step = bytes.size() + 1;
  for (size_t at = 0; at < bytes.size(); at += step) parser.feed(bytes.substr(at, step), out);
  return out;
}

SseEvent event(std::string name, std::string data, std::string id = "") {
  return SseEvent{std::move(name), std::move(data), std::move(id)};
}

// The events are the same whole, byte by byte, and split once at every offset.
void check_every_split(std::string_view bytes, const std::vector<SseEvent>& expected) {
  CHECK(parse(bytes) == expected);
  CHECK(parse(bytes, 1) == expected);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    SseParser parser;
    std::vector<SseEvent> out;
    parser.feed(bytes.substr(0, cut), out);
    parser.feed(bytes.substr(cut), out);
    INFO("split at " << cut);
    CHECK(out == expected);
  }
}

}  // namespace

TEST_CASE("a blank line dispatches the event with its name and data") {
  check_every_split("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n",
                    {event("add", "73857293"), event("remove", "2153")});
}

TEST_CASE("lines may end with lf or crlf or a lone cr") {
  const std::vector<SseEvent> expected = {event("a", "1"), event("b", "2"), event("c", "3")};
  check_every_split("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\r\n\n",
                    expected);
}

TEST_CASE("a cr at the end of one chunk and a lf at the start of the next end one line") {
  SseParser parser;
  std::vector<SseEvent> out;
  parser.feed("data: x\r", out);
  parser.feed("\n\r", out);
  parser.feed("\n", out);
  CHECK(out == std::vector<SseEvent>{event("", "x")});
}

TEST_CASE("data lines are joined with newlines") {
  check_every_split("data: This is the second message, it\ndata: has two lines.\n\n",
                    {event("", "This is the second message, it\nhas two lines.")});
}

TEST_CASE("only one space after the colon is dropped") {
  check_every_split("data:no space\n\ndata:  two spaces\n\n",
                    {event("", "no space"), event("", " two spaces")});
}

TEST_CASE("comment lines are ignored") {
  check_every_split(": keep-alive\ndata: a\n:\n: another\ndata: b\n\n", {event("", "a\nb")});
}

TEST_CASE("an event without data dispatches nothing and forgets its name") {
  check_every_split("event: lonely\n\ndata: x\n\n", {event("", "x")});
}

TEST_CASE("a data field without a colon is an empty data line and dispatches") {
  check_every_split("data\n\ndata\ndata\n\n", {event("", ""), event("", "\n")});
}

TEST_CASE("the last event id stays until another id field changes it") {
  check_every_split("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
                    {event("", "a", "1"), event("", "b", "1"), event("", "c", "")});
}

TEST_CASE("an id containing a nul is ignored") {
  static constexpr char kStream[] = "id: 7\ndata: a\n\nid: 8\0x\ndata: b\n\n";
  check_every_split(std::string_view(kStream, sizeof kStream - 1),
                    {event("", "a", "7"), event("", "b", "7")});
}

TEST_CASE("unknown fields and retry are ignored") {
  check_every_split("retry: 1000\nfoo: bar\nData: upper\ndata: kept\n\n", {event("", "kept")});
}

TEST_CASE("a bom at the start of the stream is skipped") {
  check_every_split(
      "\xEF\xBB\xBF"
      "data: a\n\n",
      {event("", "a")});
}

TEST_CASE("a bom after the start is part of the field name") {
  check_every_split(
      "data: a\n\n\xEF\xBB\xBF"
      "data: b\n\n",
      {event("", "a")});
}

TEST_CASE("a stream shorter than a bom is held until it cannot be one") {
  SseParser parser;
  std::vector<SseEvent> out;
  parser.feed("\xEF", out);
  parser.feed("\xBB", out);
  parser.feed(
      "\xBF"
      "data: a\n\n",
      out);
  CHECK(out == std::vector<SseEvent>{event("", "a")});
  SseParser other;
  std::vector<SseEvent> out2;
  other.feed("d", out2);
  other.feed("ata: b\n\n", out2);
  CHECK(out2 == std::vector<SseEvent>{event("", "b")});
}

TEST_CASE("a utf-8 character split between chunks arrives whole") {
  check_every_split("data: caf\xC3\xA9 \xF0\x9F\x98\x80\n\n",
                    {event("", "caf\xC3\xA9 \xF0\x9F\x98\x80")});
}

TEST_CASE("an event still open when the stream ends is not dispatched") {
  CHECK(parse("data: a\n\ndata: b\n") == std::vector<SseEvent>{event("", "a")});
  CHECK(parse("data: a\n\ndata: b") == std::vector<SseEvent>{event("", "a")});
}

TEST_CASE("a line over the limit fails the parser and it reads nothing more") {
  SseParser parser(16);
  std::vector<SseEvent> out;
  CHECK(parser.feed("data: short\n\n", out));
  CHECK_FALSE(parser.feed("data: 0123456789abcdef", out));
  CHECK(parser.failed());
  CHECK(parser.error() == "server-sent event line over 16 bytes");
  CHECK_FALSE(parser.feed("\n\ndata: x\n\n", out));
  CHECK(out == std::vector<SseEvent>{event("", "short")});
}

TEST_CASE("a complete line over the limit in one chunk fails the parser") {
  SseParser parser(16);
  std::vector<SseEvent> out;
  CHECK_FALSE(parser.feed("data: 0123456789abcdef\n\n", out));
  CHECK(out.empty());
}

TEST_CASE("an event whose data lines add up over the limit fails the parser") {
  SseParser parser(16);
  std::vector<SseEvent> out;
  CHECK(parser.feed("data: 01234\ndata: 56789\n", out));
  CHECK_FALSE(parser.feed("data: abcde\n\n", out));
  CHECK(parser.error() == "server-sent event event's data over 16 bytes");
  CHECK(out.empty());
}
