#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/server/metrics.h"

using namespace tollgate::metrics;

namespace {

// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) out.push_back(line);
  }
  return out;
}

std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + program;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

}  // namespace

TEST_CASE("a small registry renders the exact Prometheus text format") {
  Registry r;
  auto& requests = r.counter("tollgate_requests_total", "Replies sent.", {"op", "code"});
  requests.with({"summary", "ok"}).inc();
  requests.with({"call", "ok"}).inc(3);
  requests.with({"call", "budget_exhausted"}).inc();
  r.gauge("tollgate_calls_in_flight", "Calls running.").with({}).set(2);
  auto& duration = r.histogram("tollgate_call_duration_seconds", "Call time in seconds.",
                               {0.1, 0.5, 2.5}, {"provider"});
  duration.with({"openai"}).observe(0.25);
  duration.with({"anthropic"}).observe(0.05);
  duration.with({"anthropic"}).observe(0.5);
  duration.with({"anthropic"}).observe(7);
  r.counter("tollgate_errors_total", "Error replies.", {"code"});

  const std::string expected =
      "# HELP tollgate_call_duration_seconds Call time in seconds.\n"
      "# TYPE tollgate_call_duration_seconds histogram\n"
      "tollgate_call_duration_seconds_bucket{provider=\"anthropic\",le=\"0.1\"} 1\n"
      "tollgate_call_duration_seconds_bucket{provider=\"anthropic\",le=\"0.5\"} 2\n"
      "tollgate_call_duration_seconds_bucket{provider=\"anthropic\",le=\"2.5\"} 2\n"
      "tollgate_call_duration_seconds_bucket{provider=\"anthropic\",le=\"+Inf\"} 3\n"
      "tollgate_call_duration_seconds_sum{provider=\"anthropic\"} 7.55\n"
      "tollgate_call_duration_seconds_count{provider=\"anthropic\"} 3\n"
      "tollgate_call_duration_seconds_bucket{provider=\"openai\",le=\"0.1\"} 0\n"
      "tollgate_call_duration_seconds_bucket{provider=\"openai\",le=\"0.5\"} 1\n"
      "tollgate_call_duration_seconds_bucket{provider=\"openai\",le=\"2.5\"} 1\n"
      "tollgate_call_duration_seconds_bucket{provider=\"openai\",le=\"+Inf\"} 1\n"
      "tollgate_call_duration_seconds_sum{provider=\"openai\"} 0.25\n"
      "tollgate_call_duration_seconds_count{provider=\"openai\"} 1\n"
      "# HELP tollgate_calls_in_flight Calls running.\n"
      "# TYPE tollgate_calls_in_flight gauge\n"
      "tollgate_calls_in_flight 2\n"
      "# HELP tollgate_errors_total Error replies.\n"
      "# TYPE tollgate_errors_total counter\n"
      "# HELP tollgate_requests_total Replies sent.\n"
      "# TYPE tollgate_requests_total counter\n"
      "tollgate_requests_total{op=\"call\",code=\"budget_exhausted\"} 1\n"
      "tollgate_requests_total{op=\"call\",code=\"ok\"} 3\n"
      "tollgate_requests_total{op=\"summary\",code=\"ok\"} 1\n";
  CHECK(r.render_prometheus() == expected);
}

TEST_CASE("label values escape backslash quote and newline") {
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  Registry r;
  r.counter("x_total", "Help with a \\ backslash\nand a newline.", {"agent"})
      .with({"we\"ird\\na\nme"})
      .inc();
  const std::string text = r.render_prometheus();
  CHECK(lines_with(text, "# HELP x_total") ==
        std::vector<std::string>{"# HELP x_total Help with a \\\\ backslash\\nand a newline."});
  CHECK(lines_with(text, "x_total{") ==
        std::vector<std::string>{"x_total{agent=\"we\\\"ird\\\\na\\nme\"} 1"});
}

TEST_CASE("histogram buckets count values up to and including their bound") {
  Registry r;
  Histogram& h = r.histogram("h_seconds", "h.", {1, 2, 4}).with({});
  for (double v : {0.0, 1.0, 1.5, 2.0, 2.0000001, 4.0, 5.0, -3.0}) h.observe(v);
  h.observe(std::numeric_limits<double>::quiet_NaN());
  CHECK(h.cumulative_counts() == std::vector<uint64_t>{3, 5, 7, 9});
  const std::string text = r.render_prometheus();
  CHECK(lines_with(text, "h_seconds_bucket{le=\"+Inf\"}") ==
        std::vector<std::string>{"h_seconds_bucket{le=\"+Inf\"} 9"});
  CHECK(lines_with(text, "h_seconds_count") == std::vector<std::string>{"h_seconds_count 9"});
  CHECK(lines_with(text, "h_seconds_sum") == std::vector<std::string>{"h_seconds_sum NaN"});
}

TEST_CASE("increments from several threads add up exactly") {
  Registry r;
  auto& requests = r.counter("requests_total", "r.", {"op"});
  Gauge& in_flight = r.gauge("in_flight", "g.").with({});
  auto& latency = r.histogram("latency_seconds", "l.", {0.5}, {"op"});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Half the ops are shared by all threads, so `with` races on creation.
        const std::string op = t % 2 == 0 ? "shared" : "own" + std::to_string(t);
        for (int i = 0; i < kPerThread; ++i) {
          requests.with({op}).inc();
          requests.with({"all"}).inc();
          in_flight.add(1);
          latency.with({"all"}).observe(i % 2 == 0 ? 0.25 : 1.0);
          in_flight.sub(1);
        }
      });
    }
  }
  CHECK(requests.with({"all"}).value() == kThreads * kPerThread);
  CHECK(requests.with({"shared"}).value() == 2 * kPerThread);
  CHECK(requests.with({"own1"}).value() == kPerThread);
  CHECK(requests.with({"own3"}).value() == kPerThread);
  CHECK(in_flight.value() == 0);
  const auto counts = latency.with({"all"}).cumulative_counts();
  CHECK(counts == std::vector<uint64_t>{kThreads * kPerThread / 2, kThreads * kPerThread});
  CHECK(latency.with({"all"}).sum() == kThreads * kPerThread / 2 * 1.25);
}

TEST_CASE("collectors add gauge samples at render time") {
  Registry r;
  auto& used = r.gauge(kTokensUsed, "Tokens used.", {"agent", "provider"});
  used.with({"zed", "openai"}).set(5);
  used.with({"alice", "anthropic"}).set(1);  // replaced by the collector below
  int renders = 0;
  std::vector<bool> accepted;
  r.add_collector([&](CollectedSamples& out) {
    ++renders;
    accepted.push_back(out.add(kTokensUsed, {"alice", "anthropic"}, 4835));
    accepted.push_back(out.add(kTokensUsed, {"bob", "openai"}, 765 + renders));
    accepted.push_back(out.add(kTokensUsed, {"only-one-label"}, 1));
    accepted.push_back(out.add("no_such_family", {}, 1));
  });
  const std::string first = r.render_prometheus();
  CHECK(accepted == std::vector<bool>{true, true, false, false});
  CHECK(lines_with(first, "tollgate_tokens_used{") ==
        std::vector<std::string>{
            "tollgate_tokens_used{agent=\"alice\",provider=\"anthropic\"} 4835",
            "tollgate_tokens_used{agent=\"bob\",provider=\"openai\"} 766",
            "tollgate_tokens_used{agent=\"zed\",provider=\"openai\"} 5",
        });
  CHECK(lines_with(r.render_prometheus(), "tollgate_tokens_used{agent=\"bob\"") ==
        std::vector<std::string>{"tollgate_tokens_used{agent=\"bob\",provider=\"openai\"} 767"});
}

TEST_CASE("collectors cannot write into counters or histograms") {
  Registry r;
  r.counter("c_total", "c.");
  r.histogram("h_seconds", "h.", {1});
  bool counter_ok = true;
  bool histogram_ok = true;
  r.add_collector([&](CollectedSamples& out) {
    counter_ok = out.add("c_total", {}, 3);
    histogram_ok = out.add("h_seconds", {}, 3);
  });
  const std::string text = r.render_prometheus();
  CHECK_FALSE(counter_ok);
  CHECK_FALSE(histogram_ok);
  CHECK(lines_with(text, "c_total ") == std::vector<std::string>{"c_total 0"});
}

TEST_CASE("registering a name again returns the same family or refuses a conflict") {
  Registry r;
  auto& a = r.counter("x_total", "x.", {"code"});
  CHECK(&r.counter("x_total", "x.", {"code"}) == &a);
  CHECK_THROWS_AS(r.counter("x_total", "x.", {"other"}), std::invalid_argument);
  CHECK_THROWS_AS(r.gauge("x_total", "x.", {"code"}), std::invalid_argument);
  r.histogram("h_seconds", "h.", {1, 2});
  CHECK_THROWS_AS(r.histogram("h_seconds", "h.", {1, 3}), std::invalid_argument);
}

TEST_CASE("invalid names labels and buckets are refused") {
  Registry r;
  CHECK_THROWS_AS(r.counter("1starts_with_digit", "x."), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("has-dash", "x."), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "x.", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "x.", {"a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h", "x.", {1}, {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h", "x.", {2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h", "x.", {1, std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "x.", {"code"}).with({"a", "b"}), std::invalid_argument);
  CHECK(r.render_prometheus().find("ok_total 0") == std::string::npos);
}

TEST_CASE("values are written in their shortest exact form") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(3) == "3");
  CHECK(format_value(0.005) == "0.005");
  CHECK(format_value(-2.5) == "-2.5");
  CHECK(format_value(1e-7) == "1e-07");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  CHECK(std::stod(format_value(0.1 + 0.2)) == 0.1 + 0.2);
}

TEST_CASE("a counter ignores negative and NaN increments") {
  Counter c;
  c.inc(2);
  c.inc(-1);
  c.inc(std::nan(""));
  CHECK(c.value() == 2);
}

TEST_CASE("the daemon families pass promtool check metrics") {
  const std::string promtool = find_in_path("promtool");
  if (promtool.empty()) {
    WARN("promtool not installed (Debian package prometheus); skipping the format check");
    return;
  }
  Registry r;
  DaemonMetrics m = register_daemon_metrics(r);
  m.requests.with({"call", "ok", "zmq"}).inc();
  m.requests.with({"summary", "ok", "http"}).inc(2);
  m.errors.with({"budget_exhausted"}).inc();
  m.fallbacks.with({"fallback_threshold"}).inc();
  m.alerts.with({"warning"}).inc();
  m.circuit_state.with({"anthropic"}).set(kCircuitOpen);
  m.circuit_state.with({"openai"}).set(kCircuitClosed);
  m.calls_in_flight.set(3);
  m.call_duration.observe(1.7);
  m.call_ledger_wait.observe(0.0042);
  m.call_other.observe(0.00021);
  m.provider_request_duration.with({"anthropic"}).observe(0.8);
  m.ledger_batch_ops.observe(12);
  m.ledger_fsync_duration.observe(0.0031);
  r.add_collector([](CollectedSamples& out) {
    out.add(kTokensUsed, {"alice", "anthropic"}, 4835);
    out.add(kTokensReserved, {"alice", "anthropic"}, 0);
    out.add(kTokensLimit, {"alice", "anthropic"}, 6000);
    out.add(kGlobalTokensUsed, {"anthropic"}, 11198);
    out.add(kGlobalTokensLimit, {"anthropic"}, 13000);
  });
  const std::string text = r.render_prometheus();
  for (std::string_view name :
       {kTokensUsed, kTokensReserved, kTokensLimit, kRequestsTotal, kErrorsTotal, kFallbacksTotal,
        kCircuitState, kCallsInFlight, kCallDuration, kCallLedgerWait, kCallOther, kProviderRequestDuration, kLedgerBatchOps,
        kLedgerFsyncDuration, kAlertsTotal, kGlobalTokensUsed, kGlobalTokensLimit}) {
    INFO(name);
    CHECK(lines_with(text, "# TYPE " + std::string(name) + " ").size() == 1);
  }

  const auto dir = std::filesystem::temp_directory_path();
  const std::string input = (dir / ("metrics_test_" + std::to_string(::getpid()) + ".prom")).string();
  const std::string output = input + ".out";
  std::ofstream(input) << text;
  const std::string command = promtool + " check metrics < " + input + " > " + output + " 2>&1";
  const int status = std::system(command.c_str());
  std::ostringstream report;
  report << std::ifstream(output).rdbuf();
  std::filesystem::remove(input);
  std::filesystem::remove(output);
  INFO("promtool says: " << report.str());
  INFO(text);
  CHECK(status == 0);
}
