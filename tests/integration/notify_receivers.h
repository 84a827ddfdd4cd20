// Real receivers for alert notification tests: tests/receivers/
// webhook_receiver.py (http.server) and smtp_receiver.py (aiosmtpd), run
// with the system's /usr/bin/python3 (python3-aiosmtpd is a Debian package)
// as child processes on ephemeral loopback ports. The constructor waits for
// the `listening PORT` line (no sleep); each received request or message is
// a JSON line of the child's output, read back here. Also for daemon tests
// (kill the receiver, start it again with the same port).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/tollgated_process.h"

namespace tollgate::testing {

class PythonReceiver {
 public:
  // `script`: a file name under tests/receivers/.
  PythonReceiver(const std::string& script, const std::vector<std::string>& args);
  int port() const { return port_; }
  // Waits until `n` requests (messages) were received; returns all of them
  // so far (FAILs the test on timeout).
  std::vector<nlohmann::json> wait_for(size_t n, std::chrono::milliseconds timeout);
  // What was received so far.
  std::vector<nlohmann::json> received() const;
  ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

// webhook_receiver.py; args e.g. {"--fail-first", "2"}.
class WebhookReceiver : public PythonReceiver {
 public:
  explicit WebhookReceiver(const std::vector<std::string>& args = {})
      : PythonReceiver("webhook_receiver.py", args) {}
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }
};

class SmtpReceiver : public PythonReceiver {
 public:
  explicit SmtpReceiver(const std::vector<std::string>& args = {})
      : PythonReceiver("smtp_receiver.py", args) {}
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port()); }
};

// Lowercase hex HMAC-SHA256 of body with key, computed with OpenSSL
// directly (not the sender's code): what X-Tollgate-Signature must carry.
std::string hmac_hex(const std::string& key, const std::string& body);

// A loopback port nothing listens on (bound, then closed): a receiver that is down.
int closed_port();

}  // namespace tollgate::testing
