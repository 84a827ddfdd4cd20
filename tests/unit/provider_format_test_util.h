// Helpers shared by the provider format tests: the documented provider
// examples under tests/unit/fixtures/providers/, and JSON comparison that
// ignores key order (pure; any thread).
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol/chat_parts.h"

#ifndef TOLLGATE_PROVIDER_FIXTURES
#error "TOLLGATE_PROVIDER_FIXTURES must name tests/unit/fixtures/providers"
#endif

namespace tollgate::testing {

// A fixture file, parsed with its key order kept.
inline protocol::JsonValue provider_fixture(const std::string& name) {
  std::ifstream in(std::string(TOLLGATE_PROVIDER_FIXTURES) + "/" + name);
  if (!in) throw std::runtime_error("missing fixture " + name);
  std::ostringstream text;
  text << in.rdbuf();
  return protocol::JsonValue::parse(text.str());
}

// The same JSON, whatever the order of object keys.
inline nlohmann::json unordered(const protocol::JsonValue& j) { return nlohmann::json::parse(j.dump()); }

inline protocol::ContentBlock text_block(const std::string& text) {
  return protocol::ContentBlock::make_text(text);
}

inline protocol::ContentBlock tool_use_block(const std::string& id, const std::string& name,
                                             const std::string& input_json) {
  protocol::ContentBlock b;
  b.type = protocol::ContentBlock::Type::kToolUse;
  b.id = id;
  b.name = name;
  b.input = protocol::JsonValue::parse(input_json);
  return b;
}

inline protocol::ContentBlock tool_result_block(const std::string& id, const std::string& text) {
  protocol::ContentBlock b;
  b.type = protocol::ContentBlock::Type::kToolResult;
  b.tool_use_id = id;
  b.content = {protocol::ContentBlock::make_text(text)};
  b.content_is_string = true;
  return b;
}

inline protocol::ContentBlock image_block(const std::string& url_or_base64, bool by_url) {
  protocol::ContentBlock b;
  b.type = protocol::ContentBlock::Type::kImage;
  if (by_url) {
    b.image.kind = protocol::ImageSource::Kind::kUrl;
    b.image.url = url_or_base64;
  } else {
    b.image.media_type = "image/png";
    b.image.data = url_or_base64;
  }
  return b;
}

}  // namespace tollgate::testing
