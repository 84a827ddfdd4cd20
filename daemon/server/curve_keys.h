// CurveZMQ key material for PROTOCOL.md section 6: the server's secret key
// file (TOLLGATE_CURVE_SECRET_KEY_FILE), the allowed-clients file
// (TOLLGATE_CURVE_CLIENTS_FILE) and the client roles they grant.
//
// Parsing is pure (text in, value or Error out) apart from the load_*
// functions, which read the files. Errors name the setting, the file and,
// for the clients file, the line; they never contain key text (a secret
// key must not reach a log, and a bad line may be a pasted secret). Uses
// only libzmq's Z85 and key derivation functions; no socket. Any thread.
// Shared by tollgated and tollctl (library tollgate_curve_keys).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/error.h"

namespace tollgate::curve {

// A 32-byte CurveZMQ key in Z85 text.
inline constexpr size_t kKeyTextLength = 40;

// What a client's key allows. Without CurveZMQ every client is kAdmin
// (PROTOCOL.md: every client may use every op).
enum class ClientRole { kClient, kAdmin };

// "client" / "admin": the ZAP User-Id the handler gives each role.
std::string_view role_name(ClientRole role);
// Inverse of role_name; anything else (or no User-Id) is kClient, so a
// missing or odd value never grants admin.
ClientRole role_from_user_id(std::string_view user_id);

// The ZAP metadata property that carries the client's public key (Z85) to
// each of its messages (zmq_msg_gets).
inline constexpr const char* kKeyProperty = "X-Tollgate-Key";

// Who sent a request: its role, and how the audit trail names it (the
// `set_by` of set_limit): "curve:<client public key>", "http:<digest of
// the admin token>", or "local" (no keys configured: any local client).
struct Caller {
  ClientRole role = ClientRole::kClient;
  std::string who = "local";
};
// ZAP metadata (RFC 27 / ZMTP property list) with one property.
std::string zap_metadata(std::string_view name, std::string_view value);

struct ServerKey {
  std::string secret_z85;  // never logged
  std::string public_z85;  // derived with zmq_curve_public
};

// Allowed client public keys (Z85) and their roles.
struct ClientList {
  std::map<std::string, ClientRole> keys;
};

struct CurveKeys {
  ServerKey server;
  ClientList clients;
};

struct KeyPair {
  std::string public_z85;
  std::string secret_z85;  // never logged
};

// A new key pair from libzmq (libsodium's random source); internal when
// libzmq was built without CURVE.
protocol::Result<KeyPair> generate_key_pair();

// True when `text` is exactly 40 characters that decode as Z85.
bool is_z85_key(std::string_view text);

// The public key of a Z85 secret key; bad_request when it is not one.
protocol::Result<std::string> public_key_of(std::string_view secret_z85);

// The first characters of a public key and an ellipsis, for log lines.
std::string abbreviate_key(std::string_view public_z85);

// One line holding a Z85 secret key (a final newline is allowed).
// `where` prefixes errors, e.g. "TOLLGATE_CURVE_SECRET_KEY_FILE=/etc/k".
protocol::Result<ServerKey> parse_secret_key(std::string_view text, const std::string& where);

// One Z85 public key per line, optionally followed by a space and `admin`;
// empty lines and lines starting with "# " are comments. A key may itself
// start with '#'. A repeated key, a bad key, an unknown role word or a file
// without any key is an error naming the line.
protocol::Result<ClientList> parse_clients(std::string_view text, const std::string& where);

// The whole file, or bad_request "WHERE: cannot read: REASON".
protocol::Result<std::string> read_small_file(const std::string& path, const std::string& where);

// Reads both files named by the configuration. nullopt when neither is set
// (CurveZMQ off); an error when only one is set or either is bad.
protocol::Result<std::optional<CurveKeys>> load_curve_keys(const std::string& secret_key_file,
                                                           const std::string& clients_file);

}  // namespace tollgate::curve
