#include "tools/tollctl/curve_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "daemon/server/curve_keys.h"
#include "tools/tollctl/commands.h"

namespace tollgate::tools {

using protocol::Error;

namespace {

std::string trim_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

// A Z85 public key given as itself or as a file holding it (one line).
protocol::Result<std::string> server_public_key(const std::string& key_or_file) {
  if (curve::is_z85_key(key_or_file)) return key_or_file;
  auto text = curve::read_small_file(key_or_file, "--server-key " + key_or_file);
  if (!text) {
    return Error::bad_request(text.error().message +
                              " (expected a 40-character Z85 key or a file holding one)");
  }
  std::string key = trim_line(std::move(*text));
  if (!curve::is_z85_key(key)) {
    return Error::bad_request("--server-key " + key_or_file +
                              ": the file does not hold a 40-character Z85 public key");
  }
  return key;
}

// Creates `path` with `mode` and writes `line`; refuses an existing file.
protocol::Result<void> write_new_file(const std::string& path, const std::string& line, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Error::bad_request(path + ": cannot create: " + std::strerror(errno));
  // The umask may only narrow the mode; fchmod makes it exact.
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const int saved = errno;
  if (::close(fd) != 0 || !ok) {
    ::unlink(path.c_str());
    return Error::bad_request(path + ": cannot write: " + std::strerror(ok ? errno : saved));
  }
  return {};
}

}  // namespace

protocol::Result<std::optional<CurveClientKeys>> load_client_keys(const std::string& key_file,
                                                                  const std::string& server_key) {
  if (key_file.empty() && server_key.empty()) return std::optional<CurveClientKeys>();
  if (key_file.empty()) {
    return Error::bad_request("--server-key needs --key FILE (this client's secret key, from tollctl keygen)");
  }
  if (server_key.empty()) {
    return Error::bad_request(
        "--key needs the server's public key: --server-key KEY_OR_FILE or $TOLLGATE_CURVE_SERVER_KEY");
  }
  auto text = curve::read_small_file(key_file, "--key " + key_file);
  if (!text) return text.error();
  auto mine = curve::parse_secret_key(*text, "--key " + key_file);
  if (!mine) return mine.error();
  auto server = server_public_key(server_key);
  if (!server) return server.error();
  return std::optional<CurveClientKeys>(
      CurveClientKeys{std::move(mine->public_z85), std::move(mine->secret_z85), std::move(*server)});
}

void apply_client_keys(zmq::socket_t& socket, const CurveClientKeys& keys) {
  socket.set(zmq::sockopt::curve_serverkey, keys.server_public_z85);
  socket.set(zmq::sockopt::curve_publickey, keys.public_z85);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_z85);
}

int run_keygen(const std::optional<std::string>& out) {
  auto pair = curve::generate_key_pair();
  if (!pair) {
    std::cerr << "tollctl: keygen: " << pair.error().message << "\n";
    return kExitUsage;
  }
  if (!out) {
    std::cout << "public-key " << pair->public_z85 << "\nsecret-key " << pair->secret_z85 << "\n";
    return kExitOk;
  }
  const std::string pub_path = *out + ".pub";
  // Both must be new: check the public file first so a refusal leaves
  // nothing half-written.
  struct stat st {};
  if (::lstat(pub_path.c_str(), &st) == 0) {
    std::cerr << "tollctl: keygen: " << pub_path << " already exists; remove it or choose another --out\n";
    return kExitUsage;
  }
  if (auto r = write_new_file(*out, pair->secret_z85 + "\n", 0600); !r) {
    std::cerr << "tollctl: keygen: " << r.error().message << "\n";
    return kExitUsage;
  }
  if (auto r = write_new_file(pub_path, pair->public_z85 + "\n", 0644); !r) {
    ::unlink(out->c_str());
    std::cerr << "tollctl: keygen: " << r.error().message << "\n";
    return kExitUsage;
  }
  std::cout << "secret key: " << *out << " (mode 0600)\npublic key: " << pub_path << " (" << pair->public_z85
            << ")\n";
  return kExitOk;
}

}  // namespace tollgate::tools
