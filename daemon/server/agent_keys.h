// AgentKeys: who may call the provider-compatible endpoints (PROTOCOL.md
// section 11): TOLLGATE_AGENT_KEYS_FILE, one `<key> <ai_name>` a line,
// optionally followed by `models=<model>,<model>...` (the only `model`
// values that key may send, as the request writes them: "auto",
// "openai/gpt-4.1-mini", "claude-sonnet-4-5"...). Empty lines and lines
// starting with "# " are comments, as in the CurveZMQ clients file.
//
// Keys are secrets: no message here quotes one, and find() compares the
// presented key with every key in constant time for its length (it does
// not stop at the first match), so timing tells nothing of which keys
// exist.
//
// Plain data after load(); const methods from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.h"

namespace tollgate {

struct AgentKey {
  std::string key;                  // never logged
  std::string ai_name;
  std::vector<std::string> models;  // empty: any model
  // May this key send `model` (as the request writes it)?
  bool allows(std::string_view model) const;
};

class AgentKeys {
 public:
  // The keys in `text`; `where` names the file in error messages
  // ("TOLLGATE_AGENT_KEYS_FILE=/etc/tollgate/agent-keys line 3: ...").
  static protocol::Result<AgentKeys> parse(std::string_view text, const std::string& where);
  // Reads and parses the file; an empty path gives no keys.
  static protocol::Result<AgentKeys> load(const std::string& path);

  // The entry whose key is `key`, or nullptr.
  const AgentKey* find(std::string_view key) const;
  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }

 private:
  std::vector<AgentKey> keys_;
};

// a == b for secrets (agent keys, the admin token): libsodium's comparison,
// which takes the same time wherever the first difference is. A length
// mismatch returns at once (lengths are not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tollgate
