// tollctl's CurveZMQ side (PROTOCOL.md section 6): the client key pair from
// --key, the server's public key from --server-key or
// $TOLLGATE_CURVE_SERVER_KEY, applying them to a socket, and `tollctl
// keygen`. Main's thread only.
#pragma once

#include <optional>
#include <string>

#include <zmq.hpp>

#include "protocol/error.h"

namespace tollgate::tools {

struct CurveClientKeys {
  std::string public_z85;
  std::string secret_z85;         // never printed
  std::string server_public_z85;  // the daemon's public key
};

// `key_file` holds this client's secret key (the format of
// TOLLGATE_CURVE_SECRET_KEY_FILE, as `tollctl keygen --out` writes it);
// `server_key` is a Z85 public key or the path of a file holding one.
// nullopt when both are empty; an error (one line) when only one is given
// or either is bad.
protocol::Result<std::optional<CurveClientKeys>> load_client_keys(const std::string& key_file,
                                                                  const std::string& server_key);

// Makes `socket` a CURVE client with `keys`. Call before connect().
void apply_client_keys(zmq::socket_t& socket, const CurveClientKeys& keys);

// `tollctl keygen`: a new key pair. With `out`, writes the secret key to
// OUT (mode 0600, refusing to overwrite) and the public key to OUT.pub;
// without, prints both. Returns the exit code.
int run_keygen(const std::optional<std::string>& out);

}  // namespace tollgate::tools
