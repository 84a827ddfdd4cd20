#include "daemon/server/agent_keys.h"

#include <sodium.h>

#include <fstream>
#include <set>
#include <sstream>

#include "protocol/field_reader.h"

namespace tollgate {

using protocol::Error;

namespace {

constexpr std::streamsize kMaxFileBytes = 1 << 20;  // a few thousand keys at most
constexpr size_t kMinKeyBytes = 16;
constexpr size_t kMaxKeyBytes = 256;
constexpr std::string_view kModelsPrefix = "models=";

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Why `key` cannot be a key, or "". Never quotes the key.
std::string key_problem(std::string_view key) {
  if (key.size() < kMinKeyBytes || key.size() > kMaxKeyBytes) {
    return "a key must be " + std::to_string(kMinKeyBytes) + " to " + std::to_string(kMaxKeyBytes) +
           " characters, found " + std::to_string(key.size());
  }
  return "";
}

}  // namespace

bool AgentKey::allows(std::string_view model) const {
  if (models.empty()) return true;
  for (const auto& m : models) {
    if (m == model) return true;
  }
  return false;
}

protocol::Result<AgentKeys> AgentKeys::parse(std::string_view text, const std::string& where) {
  AgentKeys keys;
  std::set<std::string> seen;
  size_t number = 0;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    ++number;
    const std::string at = where + " line " + std::to_string(number) + ": ";
    if (line.rfind("# ", 0) == 0 || line == "#") continue;
    auto w = words(line);
    if (w.empty()) continue;
    if (w.size() < 2) return Error::bad_request(at + "expected '<key> <ai_name>', found one word");
    if (auto why = key_problem(w[0]); !why.empty()) return Error::bad_request(at + why);
    if (!protocol::detail::valid_agent_name(w[1])) {
      return Error::bad_request(at + "'" + w[1] + "' is not an agent name (1-64 of A-Z a-z 0-9 _ . -)");
    }
    AgentKey key{w[0], w[1], {}};
    for (size_t i = 2; i < w.size(); ++i) {
      if (w[i].rfind(kModelsPrefix, 0) != 0) {
        return Error::bad_request(at + "unknown word after the agent name (only models=<model>,... may follow)");
      }
      for (auto& m : split_commas(std::string_view(w[i]).substr(kModelsPrefix.size()))) {
        key.models.push_back(std::move(m));
      }
      if (key.models.empty()) return Error::bad_request(at + "models= names no model");
    }
    if (!seen.insert(key.key).second) return Error::bad_request(at + "this key is listed twice");
    keys.keys_.push_back(std::move(key));
  }
  return keys;
}

protocol::Result<AgentKeys> AgentKeys::load(const std::string& path) {
  if (path.empty()) return AgentKeys{};
  const std::string where = "TOLLGATE_AGENT_KEYS_FILE=" + path;
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error::bad_request(where + ": cannot be read");
  std::string text(static_cast<size_t>(kMaxFileBytes) + 1, '\0');
  file.read(text.data(), kMaxFileBytes + 1);
  text.resize(static_cast<size_t>(file.gcount()));
  if (text.size() > static_cast<size_t>(kMaxFileBytes)) {
    return Error::bad_request(where + ": over 1 MiB; is this the right file?");
  }
  return parse(text, where);
}

const AgentKey* AgentKeys::find(std::string_view key) const {
  const AgentKey* found = nullptr;
  for (const auto& k : keys_) {
    if (constant_time_equal(k.key, key) && !found) found = &k;
  }
  return found;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tollgate
