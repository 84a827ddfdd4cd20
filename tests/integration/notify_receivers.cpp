#include "tests/integration/notify_receivers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <sstream>

namespace tollgate::testing {

PythonReceiver::PythonReceiver(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {std::string(TOLLGATE_RECEIVERS_DIR) + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = std::make_unique<ChildProcess>(TOLLGATE_SYSTEM_PYTHON, argv,
                                          std::map<std::string, std::string>{});
  auto line = child_->wait_for_line("listening ", scaled(std::chrono::seconds(20)));
  INFO(child_->output());
  REQUIRE(line);
  port_ = std::stoi(line->substr(line->find("listening ") + 10));
}

std::vector<nlohmann::json> PythonReceiver::received() const {
  std::vector<nlohmann::json> out;
  std::istringstream in(child_->output());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("{\"n\": ", 0) == 0) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::vector<nlohmann::json> PythonReceiver::wait_for(size_t n, std::chrono::milliseconds timeout) {
  if (n > 0) {
    const auto line = child_->wait_for_line("{\"n\": " + std::to_string(n) + ",", timeout);
    INFO(child_->output());
    REQUIRE(line);
  }
  return received();
}

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string out;
  char hex[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", mac[i]);
    out += hex;
  }
  return out;
}

}  // namespace tollgate::testing
