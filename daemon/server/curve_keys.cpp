#include "daemon/server/curve_keys.h"

#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace tollgate::curve {

using protocol::Error;

namespace {

// Key files are one line; the clients file a few hundred. Anything far
// larger is the wrong file, not worth reading into memory.
constexpr std::streamsize kMaxFileBytes = 1 << 20;
constexpr size_t kAbbreviation = 8;
constexpr size_t kMaxQuotedWord = 20;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Why `key` is not a Z85 key, or "" when it is one. Never quotes the key.
std::string key_problem(std::string_view key) {
  if (key.size() != kKeyTextLength) {
    return "expected a " + std::to_string(kKeyTextLength) + "-character Z85 key, found " +
           std::to_string(key.size()) + " characters";
  }
  if (!is_z85_key(key)) return "not a valid Z85 key (characters outside the Z85 alphabet)";
  return "";
}

std::string line_where(const std::string& where, size_t line) {
  return where + " line " + std::to_string(line);
}

}  // namespace

std::string_view role_name(ClientRole role) { return role == ClientRole::kAdmin ? "admin" : "client"; }

std::string zap_metadata(std::string_view name, std::string_view value) {
  std::string out;
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  const uint32_t n = static_cast<uint32_t>(value.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(value);
  return out;
}

ClientRole role_from_user_id(std::string_view user_id) {
  return user_id == "admin" ? ClientRole::kAdmin : ClientRole::kClient;
}

bool is_z85_key(std::string_view text) {
  if (text.size() != kKeyTextLength) return false;
  const std::string copy(text);  // zmq_z85_decode wants a NUL-terminated string
  std::array<uint8_t, 32> bytes{};
  return zmq_z85_decode(bytes.data(), copy.c_str()) != nullptr;
}

protocol::Result<KeyPair> generate_key_pair() {
  std::array<char, kKeyTextLength + 1> pub{}, sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    return Error::internal(std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()));
  }
  return KeyPair{std::string(pub.data(), kKeyTextLength), std::string(sec.data(), kKeyTextLength)};
}

protocol::Result<std::string> public_key_of(std::string_view secret_z85) {
  if (!is_z85_key(secret_z85)) return Error::bad_request("not a Z85 secret key");
  const std::string secret(secret_z85);
  std::array<char, kKeyTextLength + 1> pub{};
  if (zmq_curve_public(pub.data(), secret.c_str()) != 0) {
    return Error::bad_request(std::string("cannot derive the public key: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(pub.data(), kKeyTextLength);
}

std::string abbreviate_key(std::string_view public_z85) {
  return std::string(public_z85.substr(0, kAbbreviation)) + "...";
}

protocol::Result<ServerKey> parse_secret_key(std::string_view text, const std::string& where) {
  // One line: the key, then at most a line ending.
  std::string_view body = text;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  if (body.find('\n') != std::string_view::npos) {
    return Error::bad_request(where + " line 2: the file must hold one line (the secret key)");
  }
  if (auto problem = key_problem(trim(body)); !problem.empty()) {
    return Error::bad_request(line_where(where, 1) + ": " + problem);
  }
  auto pub = public_key_of(trim(body));
  if (!pub) return Error::bad_request(line_where(where, 1) + ": " + pub.error().message);
  return ServerKey{std::string(trim(body)), std::move(*pub)};
}

protocol::Result<ClientList> parse_clients(std::string_view text, const std::string& where) {
  ClientList list;
  std::map<std::string, size_t> first_line;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    const size_t end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const std::string_view line = trim(raw);
    // "# " opens a comment; a lone "#" cannot be a key either. Any other
    // '#' may be the first character of a Z85 key.
    if (line.empty() || line == "#" || line.rfind("# ", 0) == 0) continue;
    const size_t space = line.find_first_of(" \t");
    const std::string_view key = line.substr(0, space);
    const std::string_view role_word =
        space == std::string_view::npos ? std::string_view() : trim(line.substr(space));
    if (auto problem = key_problem(key); !problem.empty()) {
      return Error::bad_request(line_where(where, number) + ": " + problem);
    }
    ClientRole role = ClientRole::kClient;
    if (role_word == "admin") {
      role = ClientRole::kAdmin;
    } else if (!role_word.empty()) {
      return Error::bad_request(line_where(where, number) + ": unknown role '" +
                                std::string(role_word.substr(0, kMaxQuotedWord)) +
                                "' after the key (only 'admin' may follow it)");
    }
    auto [it, fresh] = first_line.emplace(std::string(key), number);
    if (!fresh) {
      return Error::bad_request(line_where(where, number) + ": key " + abbreviate_key(key) +
                                " is already listed on line " + std::to_string(it->second));
    }
    list.keys.emplace(std::string(key), role);
  }
  if (list.keys.empty()) {
    return Error::bad_request(where + ": lists no client keys, so every client would be refused");
  }
  return list;
}

protocol::Result<std::string> read_small_file(const std::string& path, const std::string& where) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Error::bad_request(where + ": cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::bad_request(where + ": cannot read: " + std::strerror(errno));
  std::string text(static_cast<size_t>(kMaxFileBytes) + 1, '\0');
  in.read(text.data(), kMaxFileBytes + 1);
  if (in.bad()) return Error::bad_request(where + ": cannot read: " + std::strerror(errno));
  if (in.gcount() > kMaxFileBytes) return Error::bad_request(where + ": larger than 1 MiB");
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

protocol::Result<std::optional<CurveKeys>> load_curve_keys(const std::string& secret_key_file,
                                                           const std::string& clients_file) {
  if (secret_key_file.empty() && clients_file.empty()) return std::optional<CurveKeys>();
  if (clients_file.empty()) {
    return Error::bad_request("TOLLGATE_CURVE_SECRET_KEY_FILE=" + secret_key_file +
                              ": needs TOLLGATE_CURVE_CLIENTS_FILE too (the allowed client keys)");
  }
  if (secret_key_file.empty()) {
    return Error::bad_request("TOLLGATE_CURVE_CLIENTS_FILE=" + clients_file +
                              ": needs TOLLGATE_CURVE_SECRET_KEY_FILE too (the server's secret key)");
  }
  const std::string secret_where = "TOLLGATE_CURVE_SECRET_KEY_FILE=" + secret_key_file;
  auto secret_text = read_small_file(secret_key_file, secret_where);
  if (!secret_text) return secret_text.error();
  auto server = parse_secret_key(*secret_text, secret_where);
  if (!server) return server.error();
  const std::string clients_where = "TOLLGATE_CURVE_CLIENTS_FILE=" + clients_file;
  auto clients_text = read_small_file(clients_file, clients_where);
  if (!clients_text) return clients_text.error();
  auto clients = parse_clients(*clients_text, clients_where);
  if (!clients) return clients.error();
  return std::optional<CurveKeys>(CurveKeys{std::move(*server), std::move(*clients)});
}

}  // namespace tollgate::curve
