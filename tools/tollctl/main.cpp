// tollctl: the operator's command line for tollgated.
//
// Exit codes: 0 ok, 1 the daemon answered an error (message printed),
// 2 usage error, 3 no answer within --timeout.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "tools/tollctl/client.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitDaemonError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoAnswer = 3;

struct Options {
  std::string endpoint = "tcp://127.0.0.1:5555";
  int timeout_ms = 5000;
  bool json = false;
};

std::string format_uptime(uint64_t ms) {
  uint64_t s = ms / 1000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llud %02lluh %02llum %02llus", (unsigned long long)(s / 86400),
                (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
                (unsigned long long)(s % 60));
  return buf;
}

// Prints an error reply; returns the exit code for the reply.
int check_reply(const nlohmann::json& reply) {
  if (reply.value("ok", false)) return kExitOk;
  const auto& err = reply["error"];
  std::cerr << "tollctl: " << err.value("code", "error") << ": " << err.value("message", "") << "\n";
  return kExitDaemonError;
}

int run_ping(const Options& o) {
  zmq::context_t ctx(1);
  tollgate::tools::Client client(ctx, o.endpoint);
  auto reply = client.request(tollgate::protocol::PingRequest{}, std::chrono::milliseconds(o.timeout_ms));
  if (!reply) {
    std::cerr << "tollctl: no answer from " << o.endpoint << " within " << o.timeout_ms << " ms\n";
    return kExitNoAnswer;
  }
  if (int rc = check_reply(*reply); rc != kExitOk) return rc;
  if (o.json) {
    std::cout << reply->dump(2) << "\n";
  } else {
    std::cout << "tollgated " << reply->value("version", "?") << " at " << o.endpoint << ": up "
              << format_uptime(reply->value("uptime_ms", uint64_t{0})) << ", pid "
              << reply->value("pid", 0) << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tollctl: query and operate tollgated"};
  Options o;
  if (const char* ep = std::getenv("TOLLGATE_LISTEN")) o.endpoint = ep;
  app.add_option("--endpoint,-e", o.endpoint, "tollgated request endpoint")->capture_default_str();
  app.add_option("--timeout", o.timeout_ms, "milliseconds to wait for an answer")->capture_default_str();
  app.add_flag("--json", o.json, "print replies as JSON");
  app.require_subcommand(1);
  auto* ping = app.add_subcommand("ping", "check that tollgated answers; print version and uptime");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (ping->parsed()) return run_ping(o);
  } catch (const zmq::error_t& e) {
    std::cerr << "tollctl: " << o.endpoint << ": " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
