// The CurveZMQ key files of PROTOCOL.md section 6: secret key file and
// allowed-clients file parsing, roles, and error messages (file, line, no
// key text).

#include <zmq.h>

#include <array>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "daemon/server/curve_keys.h"

using namespace tollgate::curve;

namespace {

using tollgate::curve::KeyPair;

KeyPair keypair() {
  auto pair = tollgate::curve::generate_key_pair();
  REQUIRE(pair.ok());
  return *pair;
}

// A valid key whose Z85 text holds '#' (each 4-byte group is 84, the
// index of '#', so every group encodes as "0000#").
std::string key_with_hash() {
  std::array<uint8_t, 32> bytes{};
  for (size_t i = 3; i < bytes.size(); i += 4) bytes[i] = 84;
  std::array<char, 41> text{};
  REQUIRE(zmq_z85_encode(text.data(), bytes.data(), bytes.size()) != nullptr);
  return text.data();
}

const std::string kWhere = "TOLLGATE_CURVE_CLIENTS_FILE=/etc/tollgate/clients";

std::string temp_file(const std::string& name, const std::string& text) {
  std::random_device rd;
  auto path = std::filesystem::temp_directory_path() / ("tollgate-curve-" + std::to_string(rd()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("a clients file with comments and an admin key parses into roles") {
  auto a = keypair(), b = keypair();
  auto list = parse_clients("# agents\n\n" + a.public_z85 + "\n   \n# ops\n" + b.public_z85 + " admin\n", kWhere);
  REQUIRE(list.ok());
  REQUIRE(list->keys.size() == 2);
  CHECK(list->keys.at(a.public_z85) == ClientRole::kClient);
  CHECK(list->keys.at(b.public_z85) == ClientRole::kAdmin);
}

TEST_CASE("a key containing a hash is a key and not a comment") {
  const std::string key = key_with_hash();
  REQUIRE(key.find('#') != std::string::npos);
  REQUIRE(is_z85_key(key));
  auto list = parse_clients(key + " admin\r\n", kWhere);
  REQUIRE(list.ok());
  CHECK(list->keys.at(key) == ClientRole::kAdmin);
}

TEST_CASE("a line starting with a hash but no space is read as a key") {
  auto a = keypair();
  auto list = parse_clients(a.public_z85 + "\n#" + a.public_z85.substr(1) + "\n", kWhere);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find(kWhere + " line 2:") == 0);
}

TEST_CASE("a key of the wrong length names its line number") {
  auto a = keypair();
  auto list = parse_clients("# header\n" + a.public_z85 + "\n" + a.public_z85.substr(0, 39) + "\n", kWhere);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find(kWhere + " line 3:") == 0);
  CHECK(list.error().message.find("found 39 characters") != std::string::npos);
}

TEST_CASE("a key with characters outside Z85 is refused without quoting it") {
  std::string bad = keypair().public_z85;
  bad[5] = '"';
  auto list = parse_clients(bad + "\n", kWhere);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find(kWhere + " line 1:") == 0);
  CHECK(list.error().message.find("Z85") != std::string::npos);
  CHECK(list.error().message.find(bad) == std::string::npos);
}

TEST_CASE("an unknown role word is refused with its line number") {
  auto a = keypair();
  auto list = parse_clients(a.public_z85 + " root\n", kWhere);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find(kWhere + " line 1:") == 0);
  CHECK(list.error().message.find("'root'") != std::string::npos);
}

TEST_CASE("a repeated key is refused naming both lines") {
  auto a = keypair();
  auto list = parse_clients(a.public_z85 + "\n" + a.public_z85 + " admin\n", kWhere);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find(kWhere + " line 2:") == 0);
  CHECK(list.error().message.find("line 1") != std::string::npos);
}

TEST_CASE("a clients file with only comments is refused") {
  auto list = parse_clients("# nobody yet\n\n", kWhere);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find("no client keys") != std::string::npos);
}

TEST_CASE("a secret key file gives the matching public key") {
  auto k = keypair();
  auto server = parse_secret_key(k.secret_z85 + "\n", "S");
  REQUIRE(server.ok());
  CHECK(server->secret_z85 == k.secret_z85);
  CHECK(server->public_z85 == k.public_z85);
}

TEST_CASE("a bad secret key file is refused without quoting the key") {
  auto k = keypair();
  auto short_key = parse_secret_key(k.secret_z85.substr(0, 30) + "\n", "S=/k");
  REQUIRE_FALSE(short_key.ok());
  CHECK(short_key.error().message.find("S=/k line 1:") == 0);
  CHECK(short_key.error().message.find(k.secret_z85.substr(0, 30)) == std::string::npos);
  auto two_lines = parse_secret_key(k.secret_z85 + "\n" + k.secret_z85 + "\n", "S=/k");
  REQUIRE_FALSE(two_lines.ok());
  CHECK(two_lines.error().message.find("S=/k line 2:") == 0);
  CHECK(two_lines.error().message.find(k.secret_z85) == std::string::npos);
}

TEST_CASE("only one of the two CurveZMQ files set is refused") {
  auto only_secret = load_curve_keys("/etc/tollgate/server.key", "");
  REQUIRE_FALSE(only_secret.ok());
  CHECK(only_secret.error().message.find("TOLLGATE_CURVE_CLIENTS_FILE") != std::string::npos);
  auto only_clients = load_curve_keys("", "/etc/tollgate/clients");
  REQUIRE_FALSE(only_clients.ok());
  CHECK(only_clients.error().message.find("TOLLGATE_CURVE_SECRET_KEY_FILE") != std::string::npos);
  auto neither = load_curve_keys("", "");
  REQUIRE(neither.ok());
  CHECK_FALSE(neither->has_value());
}

TEST_CASE("key files are read from disk and a missing one is named") {
  auto server = keypair(), client = keypair();
  const auto secret_path = temp_file("server.key", server.secret_z85 + "\n");
  const auto clients_path = temp_file("clients", client.public_z85 + " admin\n");
  auto keys = load_curve_keys(secret_path, clients_path);
  REQUIRE(keys.ok());
  REQUIRE(keys->has_value());
  CHECK((*keys)->server.public_z85 == server.public_z85);
  CHECK((*keys)->clients.keys.at(client.public_z85) == ClientRole::kAdmin);
  auto missing = load_curve_keys(secret_path, clients_path + ".missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("TOLLGATE_CURVE_CLIENTS_FILE=" + clients_path + ".missing: cannot read") == 0);
  std::filesystem::remove(secret_path);
  std::filesystem::remove(clients_path);
}

TEST_CASE("only the User-Id admin grants the admin role") {
  CHECK(role_from_user_id("admin") == ClientRole::kAdmin);
  CHECK(role_from_user_id("client") == ClientRole::kClient);
  CHECK(role_from_user_id("") == ClientRole::kClient);
  CHECK(role_from_user_id("Admin") == ClientRole::kClient);
  CHECK(role_name(ClientRole::kAdmin) == "admin");
  CHECK(role_name(ClientRole::kClient) == "client");
}
