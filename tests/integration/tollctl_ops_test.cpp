// tollctl's section 10 commands (the real binary) against a real tollgated
// pointed at the fake provider: set-limit, limits, forecast, report (table,
// --json and --csv), the `limit` kind in ledger-events, and set-limit as an
// admin op under CurveZMQ. What tollctl prints is checked against the same
// op sent with TestClient.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tools/tollctl/render.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

struct Run {
  int status = -1;
  std::string output;  // stdout and stderr together
};

json without_id(json reply) {
  reply.erase("id");
  return reply;
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// " 12,345 " as tollctl prints a token count in a table cell. (Built with
// += because g++ 12 warns falsely on " " + std::string + " ".)
std::string cell(const json& n) {
  std::string out = " ";
  out += tollgate::tools::field_tokens(json{{"n", n}}, "n");
  out += " ";
  return out;
}

// A daemon where imperium and guardian made calls, and tollctl against it.
class Fixture {
 public:
  Fixture()
      : daemon_(merge(fake_.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "100000"},
                                              {"ANTHROPIC_RPM", "0"},
                                              {"OPENAI_RPM", "0"}})),
        client_(ctx_, daemon_.requests()) {
    for (int i = 0; i < 3; ++i) {
      REQUIRE(client_.request(call_body("imperium", "hello", 10))["ok"] == true);
    }
    REQUIRE(client_.request(call_body("guardian", "good morning", 10))["ok"] == true);
    json openai = call_body("guardian", "and you", 10);
    openai["preferred_provider"] = "openai";
    REQUIRE(client_.request(openai)["ok"] == true);
  }

  Run tollctl(std::vector<std::string> args) {
    std::vector<std::string> all = {"--endpoint", daemon_.requests(), "--events", daemon_.events()};
    all.insert(all.end(), args.begin(), args.end());
    ChildProcess p(bin_dir() + "/tollctl", all, {});
    auto status = p.wait_exit(scaled(20s));
    INFO("tollctl output:\n" << p.output());
    REQUIRE(status.has_value());
    return {*status, p.output()};
  }

  json tollctl_json(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--json"};
    all.insert(all.end(), args.begin(), args.end());
    Run r = tollctl(all);
    INFO("tollctl output:\n" << r.output);
    REQUIRE(r.status == 0);
    return without_id(json::parse(r.output));
  }

  json op(json body) { return without_id(client_.request(std::move(body))); }

 private:
  FakeProviderProcess fake_;
  TollgatedProcess daemon_;
  zmq::context_t ctx_;
  TestClient client_;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// The first line of `text` containing `needle` ("" when none).
std::string line_with(const std::string& text, const std::string& needle) {
  for (const std::string& line : split(text, '\n')) {
    if (has(line, needle)) return line;
  }
  return {};
}

// Today as the daemon names it ("YYYY-MM-DD", UTC).
std::string today(Fixture& f) {
  return f.op({{"op", "daily"}, {"days", 1}})["days"][0]["date"].get<std::string>();
}

}  // namespace

TEST_CASE("tollctl set-limit changes a budget and prints it as usage does and default clears it") {
  Fixture f;
  Run set = f.tollctl({"set-limit", "imperium", "anthropic", "150"});
  INFO(set.output);
  CHECK(set.status == 0);
  CHECK(has(set.output, "imperium"));
  CHECK(has(set.output, "anthropic"));
  CHECK(has(set.output, "150"));
  CHECK(f.op({{"op", "usage"}, {"ai_name", "imperium"}})["providers"]["anthropic"]["limit"] == 150);

  json cleared = f.tollctl_json({"set-limit", "imperium", "anthropic", "default"});
  CHECK(cleared["providers"]["anthropic"]["limit"] == 100000);
  // The budget as usage shows it (set_limit's reply leaves `recommended` nil).
  json usage = f.op({{"op", "usage"}, {"ai_name", "imperium"}});
  cleared.erase("recommended");
  usage.erase("recommended");
  CHECK(cleared == usage);

  Run global = f.tollctl({"set-limit", "*", "openai", "2000000"});
  INFO(global.output);
  CHECK(global.status == 0);
  CHECK(has(global.output, "2,000,000"));

  for (const char* bad : {"12x", "1.5", "9007199254740993", "unlimited"}) {
    Run r = f.tollctl({"set-limit", "imperium", "anthropic", bad});
    INFO("LIMIT " << bad << ": " << r.output);
    CHECK(r.status == 2);
    CHECK(has(r.output, "whole number of tokens"));
  }
  CHECK(f.tollctl({"set-limit", "imperium", "anthropic", "-5"}).status == 2);
  Run unknown = f.tollctl({"set-limit", "imperium", "gemini", "10"});
  CHECK(unknown.status == 1);
  CHECK(has(unknown.output, "bad_request"));
}

TEST_CASE("tollctl limits lists each override with who set it and ledger-events names the change") {
  Fixture f;
  REQUIRE(f.tollctl({"set-limit", "imperium", "anthropic", "150"}).status == 0);
  Run limits = f.tollctl({"limits"});
  INFO(limits.output);
  CHECK(limits.status == 0);
  CHECK(has(limits.output, "SET AT (UTC)"));
  CHECK(has(limits.output, "imperium"));
  CHECK(has(limits.output, " 150 "));
  CHECK(has(limits.output, "local"));
  CHECK(has(limits.output, today(f) + "T"));
  CHECK(f.tollctl_json({"limits"}) == f.op({{"op", "limits"}}));

  REQUIRE(f.tollctl({"set-limit", "imperium", "anthropic", "default"}).status == 0);
  Run none = f.tollctl({"limits"});
  CHECK(has(none.output, "no limit overrides"));
  Run events = f.tollctl({"ledger-events"});
  INFO(events.output);
  CHECK(events.status == 0);
  const std::string set_line =
      line_with(events.output, "imperium anthropic 150 (was configured) by local");
  const std::string clear_line =
      line_with(events.output, "imperium anthropic configured (was 150) by local");
  CHECK(has(set_line, " limit "));
  CHECK(has(clear_line, " limit "));
  // Newest first.
  CHECK(events.output.find(clear_line) < events.output.find(set_line));
  CHECK(f.tollctl_json({"ledger-events"}) == f.op({{"op", "ledger_events"}}));
}

TEST_CASE("tollctl forecast prints each budget with its rate projection and exhaustion") {
  Fixture f;
  const json expected = f.op({{"op", "forecast"}, {"ai_name", "imperium"}});
  const json& budget = expected["agents"]["imperium"]["anthropic"];
  Run r = f.tollctl({"forecast", "imperium"});
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(has(r.output, "RATE/DAY"));
  CHECK(has(r.output, "period " + expected["period"].get<std::string>()));
  CHECK(has(r.output, "imperium"));
  const std::string row = line_with(r.output, "imperium");
  CHECK(has(row, "anthropic"));
  CHECK(has(row, cell(budget["used"])));
  CHECK(has(row, cell(budget["limit"])));
  CHECK(has(row, "—"));  // 100,000 tokens are not reached this period
  CHECK_FALSE(has(r.output, "guardian"));
  // The rate moves with the clock; the rest is the op's reply.
  json mine = f.tollctl_json({"forecast", "imperium"});
  CHECK(mine["agents"]["imperium"]["anthropic"]["used"] == budget["used"]);
  CHECK(mine["agents"]["imperium"]["anthropic"]["limit"] == budget["limit"]);
  CHECK(mine["period_end_ms"] == expected["period_end_ms"]);
  Run all = f.tollctl({"forecast"});
  CHECK(has(all.output, "guardian"));

  // A limit just above what is used: exhaustion is projected, with a time.
  const uint64_t used = budget["used"].get<uint64_t>();
  REQUIRE(f.tollctl({"set-limit", "imperium", "anthropic", std::to_string(used + 1)}).status == 0);
  auto exhausted_minute = [&] {
    const json near = f.op({{"op", "forecast"}, {"ai_name", "imperium"}});
    const json& at = near["agents"]["imperium"]["anthropic"]["projected_exhausted_at_ms"];
    REQUIRE(at.is_number());
    return tollgate::tools::format_time_ms(at.get<int64_t>()).substr(0, 16);
  };
  // Printed to the second and moving with the clock: the minute, as the
  // op gave it just before or just after.
  const std::string before = exhausted_minute();
  Run soon = f.tollctl({"forecast", "imperium"});
  const std::string after = exhausted_minute();
  INFO(soon.output);
  const std::string soon_row = line_with(soon.output, "imperium");
  CHECK((has(soon_row, before) || has(soon_row, after)));
}

TEST_CASE("tollctl report prints days newest first and its json equals the daily op") {
  Fixture f;
  const json daily = f.op({{"op", "daily"}, {"ai_name", "imperium"}, {"days", 5}});
  Run r = f.tollctl({"report", "imperium", "--days", "5"});
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(has(r.output, "imperium: last 5 days"));
  const std::string first = daily["days"][0]["date"], last = daily["days"][4]["date"];
  CHECK(r.output.find(first) < r.output.find(last));
  const json& anthropic = daily["days"][0]["providers"]["anthropic"];
  const std::string today_row = line_with(r.output, first);
  CHECK(has(today_row, cell(anthropic["used"])));
  CHECK(has(today_row, " 3 "));
  CHECK(f.tollctl_json({"report", "imperium", "--days", "5"}) == daily);
  CHECK(f.tollctl_json({"report"}) == f.op({{"op", "daily"}}));
  Run bad = f.tollctl({"report", "--days", "0"});
  CHECK(bad.status == 2);
}

TEST_CASE("tollctl report csv has one line per day and provider with the daily op numbers") {
  Fixture f;
  const json daily = f.op({{"op", "daily"}, {"days", 3}});
  const std::vector<std::vector<std::string>> runs = {
      {"report", "--days", "3", "--csv"}, {"--json", "report", "--days", "3", "--csv"}};
  for (const auto& args : runs) {
    Run r = f.tollctl(args);
    INFO(r.output);
    REQUIRE(r.status == 0);
    const std::vector<std::string> lines = split(r.output, '\n');
    REQUIRE_FALSE(lines.empty());
    CHECK(lines[0] == "date,provider,used,requests,cost_usd");
    size_t row = 1;
    for (const json& day : daily["days"]) {
      for (const auto& [provider, p] : day["providers"].items()) {
        REQUIRE(row < lines.size());
        const std::vector<std::string> cells = split(lines[row++], ',');
        REQUIRE(cells.size() == 5);
        CHECK(cells[0] == day["date"].get<std::string>());
        CHECK(cells[1] == provider);
        CHECK(std::stoull(cells[2]) == p["used"].get<uint64_t>());
        CHECK(std::stoull(cells[3]) == p["requests"].get<uint64_t>());
        CHECK(std::stod(cells[4]) == Approx(p["cost_usd"].get<double>()).margin(1e-9));
      }
    }
    CHECK(row == lines.size());  // nothing else on stdout
  }
  // Today: guardian's openai call and all four anthropic calls.
  CHECK(daily["days"][0]["providers"]["openai"]["requests"] == 1);
  CHECK(daily["days"][0]["providers"]["anthropic"]["requests"] == 4);
}

TEST_CASE("tollctl set-limit is an admin op under CurveZMQ and limits names the admin key") {
  TempDir dir;
  const std::string server_key = dir.path() + "/server.key", client_key = dir.path() + "/agent.key",
                    admin_key = dir.path() + "/admin.key";
  for (const auto& out : {server_key, client_key, admin_key}) {
    ChildProcess gen(bin_dir() + "/tollctl", {"keygen", "--out", out}, {});
    REQUIRE(gen.wait_exit(scaled(10s)) == std::optional<int>(0));
  }
  auto first_line = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  };
  const std::string admin_public = first_line(admin_key + ".pub");
  {
    std::ofstream clients(dir.path() + "/clients");
    clients << first_line(client_key + ".pub") << "\n" << admin_public << " admin\n";
  }
  TollgatedProcess d({{"TOLLGATE_CURVE_SECRET_KEY_FILE", server_key},
                      {"TOLLGATE_CURVE_CLIENTS_FILE", dir.path() + "/clients"}});
  auto tollctl = [&](const std::string& key, std::vector<std::string> args) {
    std::vector<std::string> all = {"--endpoint", d.requests(), "--server-key", server_key + ".pub",
                                    "--key", key};
    all.insert(all.end(), args.begin(), args.end());
    ChildProcess p(bin_dir() + "/tollctl", all, {});
    auto status = p.wait_exit(scaled(20s));
    REQUIRE(status.has_value());
    return Run{*status, p.output()};
  };
  Run denied = tollctl(client_key, {"set-limit", "imperium", "anthropic", "500"});
  INFO(denied.output);
  CHECK(denied.status == 1);
  CHECK(has(denied.output, "unauthorized"));
  Run allowed = tollctl(admin_key, {"set-limit", "imperium", "anthropic", "500"});
  INFO(allowed.output);
  CHECK(allowed.status == 0);
  Run limits = tollctl(client_key, {"limits"});
  INFO(limits.output);
  CHECK(limits.status == 0);
  CHECK(has(limits.output, "curve:" + admin_public));
  Run events = tollctl(client_key, {"ledger-events"});
  CHECK(has(events.output, "imperium anthropic 500 (was configured) by curve:" +
                               admin_public.substr(0, 12) + "…"));
}
