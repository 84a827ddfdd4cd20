// Internal to the provider formats (anthropic_format.cpp,
// openai_format.cpp): reading provider JSON with errors that name the path
// of the offending field, and the small translations both formats share.
// Readers throw FormatError; the public functions catch it (and any
// nlohmann::json exception) and return a Result. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/chat_parts.h"
#include "protocol/error.h"

namespace tollgate::protocol::format {

// `what` is "<path>: <problem>", e.g. "messages[2].content[0].tool_use_id: missing".
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& path, std::string_view problem);

// "path[i]" and "path.key" ("key" when path is empty).
std::string at_index(const std::string& path, size_t i);
std::string at_key(const std::string& path, std::string_view key);

// obj[key] when present and not null; nullptr otherwise. obj must be an object.
const JsonValue* find(const JsonValue& obj, std::string_view key);
// obj[key], which must be present (not null); fails "<path>.<key>: missing".
const JsonValue& need(const JsonValue& obj, std::string_view key, const std::string& path);
// Typed reads of obj[key]; the optional forms give nullopt when absent or null.
std::string need_string(const JsonValue& obj, std::string_view key, const std::string& path);
std::optional<std::string> maybe_string(const JsonValue& obj, std::string_view key,
                                        const std::string& path);
std::optional<double> maybe_number(const JsonValue& obj, std::string_view key,
                                   const std::string& path);
std::optional<bool> maybe_bool(const JsonValue& obj, std::string_view key, const std::string& path);
// A token count: nullopt when absent or null; fails when it is not an
// unsigned integer ("<path>.<key> is not a count") or is above
// kMaxReportedTokens ("... is implausibly large: N").
std::optional<uint64_t> maybe_count(const JsonValue& obj, std::string_view key,
                                    const std::string& path);
void need_array(const JsonValue& v, const std::string& path);
void need_object(const JsonValue& v, const std::string& path);
// An array of strings at `path` (stop sequences), appended to `out`; fails
// naming the path of the first element that is not a string.
void append_strings(const JsonValue& v, const std::string& path, std::vector<std::string>& out);

// value ? JsonValue(value) : null.
JsonValue string_or_null(const std::optional<std::string>& value);

// Runs f (which returns T) and turns a FormatError or a JSON exception into
// an Error made by `make` (Error::bad_request, Error::provider_error).
template <class F>
auto guarded(F&& f, Error (*make)(std::string)) -> Result<decltype(f())> {
  try {
    return f();
  } catch (const FormatError& e) {
    return make(e.what());
  } catch (const nlohmann::json::exception& e) {
    return make(e.what());
  }
}

}  // namespace tollgate::protocol::format
