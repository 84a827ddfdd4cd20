// Reading section 8's blocks, tools and fields from msgpack (content_decoder.h).
#include "protocol/content_decoder.h"

#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_set>

#include "protocol/bounded_unpack.h"
#include "protocol/wire_fields.h"

namespace tollgate::protocol::detail {
namespace {

constexpr size_t kAny = std::numeric_limits<size_t>::max();
constexpr size_t kMaxToolNameBytes = 64;
constexpr size_t kMaxTypeBytes = 32;
constexpr std::string_view kMediaTypes[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};

// Where a block stands decides the types it may have.
enum class Place { kMessage, kToolResult, kSystem, kReply };

std::string_view allowed_types(Place place) {
  switch (place) {
    case Place::kMessage: return "text, image, tool_use or tool_result";
    case Place::kToolResult: return "text or image (a tool_result holds text and image blocks)";
    case Place::kSystem: return "text (system takes text blocks only)";
    case Place::kReply: return "text or tool_use";
  }
  return "text";
}

bool allowed(ContentBlock::Type type, Place place) {
  using T = ContentBlock::Type;
  switch (place) {
    case Place::kMessage: return true;
    case Place::kToolResult: return type == T::kText || type == T::kImage;
    case Place::kSystem: return type == T::kText;
    case Place::kReply: return type == T::kText || type == T::kToolUse;
  }
  return false;
}

// A map key of untrusted text in a path: at most 64 printable ASCII characters.
std::string key_for_path(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

// msgpack -> JsonValue with the keys in order. A map is built by appending
// to its ordered_map (whose own insert searches linearly: a map of n keys
// would cost n^2), duplicates found with a hash set.
class JsonConverter {
 public:
  explicit JsonConverter(size_t max_depth) : max_depth_(max_depth) {}

  JsonValue convert(const msgpack::object& o, std::string& path, size_t depth) {
    switch (o.type) {
      case msgpack::type::NIL: return nullptr;
      case msgpack::type::BOOLEAN: return o.via.boolean;
      case msgpack::type::POSITIVE_INTEGER: return o.via.u64;
      case msgpack::type::NEGATIVE_INTEGER: return o.via.i64;
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        if (!std::isfinite(o.via.f64)) return fail(path, "not a finite number (JSON has none)");
        return o.via.f64;
      case msgpack::type::STR: {
        std::string_view s(o.via.str.ptr, o.via.str.size);
        if (!valid_utf8(s)) return fail(path, "not valid UTF-8");
        return std::string(s);
      }
      case msgpack::type::ARRAY:
      case msgpack::type::MAP:
        if (depth > max_depth_) {
          if (!error) {
            error = Error::too_large(path + ": nests containers deeper than " +
                                     std::to_string(max_depth_) + " levels");
          }
          return nullptr;
        }
        return o.type == msgpack::type::ARRAY ? convert_array(o, path, depth) : convert_map(o, path, depth);
      case msgpack::type::BIN:
      case msgpack::type::EXT: break;
    }
    return fail(path, std::string(type_name(o)) + " is not a JSON value");
  }

  std::optional<Error> error;

 private:
  JsonValue fail(const std::string& path, const std::string& rule) {
    if (!error) error = Error::bad_request(path + ": " + rule);
    return nullptr;
  }

  JsonValue convert_array(const msgpack::object& o, std::string& path, size_t depth) {
    JsonValue a = JsonValue::array();
    auto& items = a.get_ref<JsonValue::array_t&>();
    items.reserve(o.via.array.size);
    const size_t base = path.size();
    for (uint32_t i = 0; i < o.via.array.size && !error; ++i) {
      path.push_back('[');
      path.append(std::to_string(i));
      path.push_back(']');
      items.push_back(convert(o.via.array.ptr[i], path, depth + 1));
      path.resize(base);
    }
    return a;
  }

  JsonValue convert_map(const msgpack::object& o, std::string& path, size_t depth) {
    JsonValue m = JsonValue::object();
    auto& members = m.get_ref<JsonValue::object_t&>();
    members.reserve(o.via.map.size);
    std::unordered_set<std::string_view> seen;
    const size_t base = path.size();
    for (uint32_t i = 0; i < o.via.map.size && !error; ++i) {
      const msgpack::object_kv& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) return fail(path, "map keys must be strings");
      const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
      path.push_back('.');
      path.append(key_for_path(key));
      if (!valid_utf8(key)) return fail(path, "key not valid UTF-8");
      if (!seen.insert(key).second) return fail(path, "given more than once");
      JsonValue value = convert(kv.val, path, depth + 1);
      members.emplace_back(std::string(key), std::move(value));
      path.resize(base);
    }
    return m;
  }

  const size_t max_depth_;
};

// A map under `key` as JSON; `rule` says what it must be.
void read_json_map(FieldReader& f, std::string_view key, bool required, size_t max_depth,
                   JsonValue& out, std::string_view rule) {
  const msgpack::object* o = f.find(key);
  if (!f.ok()) return;
  if (!o) {
    if (required) f.fail(key, "required; " + std::string(rule));
    return;
  }
  if (o->type != msgpack::type::MAP) {
    f.fail(key, rule);
    return;
  }
  if (auto e = read_json_value(*o, f.path_of(key), max_depth, out)) f.fail_with(*e);
}

bool valid_tool_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxToolNameBytes) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Standard alphabet with padding; `bytes` is the decoded size.
bool valid_base64(std::string_view s, size_t& bytes) {
  if (s.empty() || s.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && s[s.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i < s.size() - pad; ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return false;
  }
  bytes = s.size() / 4 * 3 - pad;
  return true;
}

bool valid_url(std::string_view s) {
  auto starts = [&](std::string_view scheme) {
    if (s.size() <= scheme.size()) return false;
    for (size_t i = 0; i < scheme.size(); ++i) {
      const char c = (s[i] >= 'A' && s[i] <= 'Z') ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
      if (c != scheme[i]) return false;
    }
    return true;
  };
  if (!starts("http://") && !starts("https://")) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void read_base64_image(FieldReader& sf, ImageSource& out) {
  out.kind = ImageSource::Kind::kBase64;
  sf.string("media_type", 1, kMaxTypeBytes, out.media_type);
  bool known = false;
  for (auto m : kMediaTypes) known = known || m == out.media_type;
  if (sf.ok() && !known) sf.fail("media_type", "image/jpeg, image/png, image/gif or image/webp");
  sf.string("data", 1, kAny, out.data);
  size_t bytes = 0;
  if (sf.ok() && !valid_base64(out.data, bytes)) sf.fail("data", "not valid base64");
  if (sf.ok() && bytes > kMaxImageBytes) {
    sf.fail_with(Error::too_large(sf.path_of("data") + ": an image of " + std::to_string(bytes) +
                                  " bytes is over the limit of " + std::to_string(kMaxImageBytes)));
  }
}

void read_image(FieldReader& bf, ImageSource& out) {
  constexpr std::string_view kRule = "{type: base64, media_type, data} or {type: url, url}";
  const msgpack::object* src = bf.find("source");
  if (!bf.ok()) return;
  if (!src || src->type != msgpack::type::MAP) {
    bf.fail("source", src ? std::string(kRule) : "required; " + std::string(kRule));
    return;
  }
  FieldReader sf(*src, bf.path_of("source"));
  std::string type;
  if (sf.check_string_keys()) sf.string("type", 1, kMaxTypeBytes, type);
  if (sf.ok() && type == "base64") {
    read_base64_image(sf, out);
  } else if (sf.ok() && type == "url") {
    out.kind = ImageSource::Kind::kUrl;
    sf.string("url", 1, kMaxUrlBytes, out.url);
    if (sf.ok() && !valid_url(out.url)) sf.fail("url", "an http:// or https:// URL");
  } else {
    sf.fail("type", "base64 or url");
  }
  if (!sf.ok()) bf.fail_with(sf.error());
}

std::optional<Error> read_block_array(const msgpack::object& o, const std::string& path, Place place,
                                      std::vector<ContentBlock>& out);

void read_tool_use(FieldReader& bf, Place place, ContentBlock& out) {
  const bool stored = place == Place::kReply;
  bf.string("id", stored ? 0 : 1, stored ? kAny : kMaxToolIdBytes, out.id);
  bf.string("name", stored ? 0 : 1, stored ? kAny : kMaxToolNameBytes, out.name);
  if (bf.ok() && !stored && !valid_tool_name(out.name)) bf.fail("name", "1-64 chars of [A-Za-z0-9_-]");
  // A stored reply holds what the provider sent, at whatever depth.
  read_json_map(bf, "input", true, stored ? kAny : kMaxSchemaDepth, out.input, "map (the tool's input)");
}

void read_tool_result(FieldReader& bf, ContentBlock& out) {
  bf.string("tool_use_id", 1, kMaxToolIdBytes, out.tool_use_id);
  const msgpack::object* c = bf.find("content");
  if (bf.ok() && c && c->type == msgpack::type::STR) {
    std::string text;
    bf.string("content", 0, kAny, text);
    out.content.push_back(ContentBlock::make_text(std::move(text)));
    out.content_is_string = true;
  } else if (bf.ok() && c && c->type == msgpack::type::ARRAY) {
    if (auto e = read_block_array(*c, bf.path_of("content"), Place::kToolResult, out.content)) bf.fail_with(*e);
  } else if (c) {
    bf.fail("content", "string or array of text and image blocks");
  }
  bf.boolean("is_error", out.is_error);
}

std::optional<ContentBlock::Type> block_type(std::string_view name) {
  for (auto t : {ContentBlock::Type::kText, ContentBlock::Type::kImage, ContentBlock::Type::kToolUse,
                 ContentBlock::Type::kToolResult}) {
    if (block_type_name(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<Error> read_block(const msgpack::object& o, const std::string& path, Place place,
                                ContentBlock& out) {
  const std::string rule = "a block of type " + std::string(allowed_types(place));
  if (o.type != msgpack::type::MAP) return Error::bad_request(path + ": " + rule);
  FieldReader bf(o, path);
  std::string name;
  if (bf.check_string_keys()) bf.string("type", 1, kMaxTypeBytes, name);
  if (!bf.ok()) return bf.error();
  const auto type = block_type(name);
  if (!type || !allowed(*type, place)) {
    bf.fail("type", rule);
    return bf.error();
  }
  out.type = *type;
  switch (*type) {
    // Providers refuse empty text blocks; a stored reply keeps what it had.
    case ContentBlock::Type::kText: bf.string("text", place == Place::kReply ? 0 : 1, kAny, out.text); break;
    case ContentBlock::Type::kImage: read_image(bf, out.image); break;
    case ContentBlock::Type::kToolUse: read_tool_use(bf, place, out); break;
    case ContentBlock::Type::kToolResult: read_tool_result(bf, out); break;
  }
  read_json_map(bf, "cache_control", false, kMaxSchemaDepth, out.cache_control, "map, e.g. {type: ephemeral}");
  if (!bf.ok()) return bf.error();
  return std::nullopt;
}

std::optional<Error> read_block_array(const msgpack::object& o, const std::string& path, Place place,
                                      std::vector<ContentBlock>& out) {
  if (o.type != msgpack::type::ARRAY) {
    return Error::bad_request(path + ": array of blocks of type " + std::string(allowed_types(place)));
  }
  out.reserve(o.via.array.size);
  for (uint32_t i = 0; i < o.via.array.size; ++i) {
    ContentBlock b;
    if (auto e = read_block(o.via.array.ptr[i], path + "[" + std::to_string(i) + "]", place, b)) return e;
    out.push_back(std::move(b));
  }
  return std::nullopt;
}

void read_system(FieldReader& f, CallRequest& r) {
  const msgpack::object* o = f.find("system");
  if (!o) return;
  if (o->type == msgpack::type::STR) {
    f.string("system", 0, kAny, r.system);
    return;
  }
  if (o->type != msgpack::type::ARRAY || o->via.array.size == 0) {
    f.fail("system", "string or non-empty array of text blocks");
    return;
  }
  if (auto e = read_block_array(*o, f.path_of("system"), Place::kSystem, r.system_blocks)) f.fail_with(*e);
}

void read_tool(FieldReader& tf, ToolSpec& t) {
  if (!tf.check_string_keys()) return;
  tf.string("name", 1, kMaxToolNameBytes, t.name);
  if (tf.ok() && !valid_tool_name(t.name)) tf.fail("name", "1-64 chars of [A-Za-z0-9_-]");
  std::optional<std::string> description;
  tf.string("description", 0, kAny, description);
  t.description = description.value_or("");
  read_json_map(tf, "input_schema", true, kMaxSchemaDepth, t.input_schema, "map (a JSON Schema)");
  read_json_map(tf, "cache_control", false, kMaxSchemaDepth, t.cache_control, "map, e.g. {type: ephemeral}");
}

void read_tools(FieldReader& f, std::vector<ToolSpec>& out) {
  const msgpack::object* o = f.find("tools");
  if (!o) return;
  if (o->type != msgpack::type::ARRAY) {
    f.fail("tools", "array of {name, description, input_schema} maps");
    return;
  }
  if (o->via.array.size > kMaxTools) {
    f.fail_with(Error::too_large(f.path_of("tools") + ": " + std::to_string(o->via.array.size) +
                                 " tools is over the limit of " + std::to_string(kMaxTools)));
    return;
  }
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const msgpack::object& m = o->via.array.ptr[i];
    if (m.type != msgpack::type::MAP) {
      f.fail(where, "map with name, description and input_schema");
      return;
    }
    FieldReader tf(m, f.path_of(where));
    ToolSpec t;
    read_tool(tf, t);
    for (size_t j = 0; j < out.size() && tf.ok(); ++j) {
      if (out[j].name == t.name) tf.fail("name", "\"" + t.name + "\" already names tools[" + std::to_string(j) + "]");
    }
    if (!tf.ok()) {
      f.fail_with(tf.error());
      return;
    }
    out.push_back(std::move(t));
  }
}

void read_tool_choice(FieldReader& f, std::optional<ToolChoice>& out) {
  const msgpack::object* o = f.find("tool_choice");
  if (!o) return;
  if (o->type != msgpack::type::MAP) {
    f.fail("tool_choice", "map {type: auto, any, none or tool; name with tool}");
    return;
  }
  FieldReader cf(*o, f.path_of("tool_choice"));
  std::string type;
  std::optional<std::string> name;
  if (cf.check_string_keys()) cf.string("type", 1, kMaxTypeBytes, type);
  ToolChoice c;
  size_t index = 0;
  while (index < kToolChoiceNames.size() && kToolChoiceNames[index] != type) ++index;
  if (cf.ok() && index == kToolChoiceNames.size()) cf.fail("type", "auto, any, none or tool");
  c.type = static_cast<ToolChoice::Type>(index);
  cf.string("name", 1, kMaxToolNameBytes, name);
  if (cf.ok() && c.type == ToolChoice::Type::kTool && !name) {
    cf.fail("name", "required with type tool; the name of one of the tools");
  } else if (cf.ok() && c.type != ToolChoice::Type::kTool && name) {
    cf.fail("name", "only with type tool");
  }
  if (!cf.ok()) {
    f.fail_with(cf.error());
    return;
  }
  c.name = name.value_or("");
  out = std::move(c);
}

void read_stop_sequences(FieldReader& f, std::vector<std::string>& out) {
  const msgpack::object* o = f.find("stop_sequences");
  if (!o) return;
  const std::string item_rule = "non-empty string of at most " + std::to_string(kMaxStopSequenceBytes) + " bytes";
  if (o->type != msgpack::type::ARRAY || o->via.array.size > kMaxStopSequences) {
    f.fail("stop_sequences", "array of at most " + std::to_string(kMaxStopSequences) + " strings, each a " + item_rule);
    return;
  }
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& s = o->via.array.ptr[i];
    const std::string where = "stop_sequences[" + std::to_string(i) + "]";
    if (s.type != msgpack::type::STR || s.via.str.size == 0 || s.via.str.size > kMaxStopSequenceBytes) {
      f.fail(where, item_rule);
      return;
    }
    const std::string_view text(s.via.str.ptr, s.via.str.size);
    if (!valid_utf8(text)) {
      f.fail(where, "not valid UTF-8");
      return;
    }
    out.emplace_back(text);
  }
}

}  // namespace

std::optional<Error> read_json_value(const msgpack::object& o, const std::string& path,
                                     size_t max_depth, JsonValue& out) {
  JsonConverter converter(max_depth);
  std::string where = path;
  JsonValue value = converter.convert(o, where, 1);
  if (converter.error) return converter.error;
  out = std::move(value);
  return std::nullopt;
}

std::optional<Error> read_blocks(const msgpack::object& o, const std::string& path, BlockMode mode,
                                 std::vector<ContentBlock>& out) {
  return read_block_array(o, path, mode == BlockMode::kStoredReply ? Place::kReply : Place::kMessage, out);
}

void read_message_content(FieldReader& mf, ChatMessage& msg) {
  constexpr std::string_view kRule = "string or non-empty array of blocks";
  const msgpack::object* c = mf.find("content");
  if (!mf.ok()) return;
  if (!c) {
    mf.fail("content", "required; " + std::string(kRule));
  } else if (c->type == msgpack::type::STR) {
    mf.string("content", 0, kAny, msg.content);
  } else if (c->type != msgpack::type::ARRAY || c->via.array.size == 0) {
    mf.fail("content", kRule);
  } else if (auto e = read_block_array(*c, mf.path_of("content"), Place::kMessage, msg.blocks)) {
    mf.fail_with(*e);
  }
}

void read_call_content(FieldReader& f, CallRequest& r) {
  read_system(f, r);
  read_tools(f, r.tools);
  read_tool_choice(f, r.tool_choice);
  read_stop_sequences(f, r.stop_sequences);
  f.number("top_p", 0, 1, r.top_p);
}

}  // namespace tollgate::protocol::detail
