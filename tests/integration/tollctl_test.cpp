// tollctl (the real binary) against a real tollgated pointed at the fake
// provider: every subcommand in human and --json form, and the exit codes.
// JSON output is checked against the same op sent with TestClient.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <optional>
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

// A daemon whose ledger has usage by two agents, imperium past its warning
// threshold (so there are alerts), and a way to run tollctl against it.
class Fixture {
 public:
  Fixture()
      : daemon_(merge(fake_.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "200"},
                                              {"ANTHROPIC_RPM", "0"},
                                              {"OPENAI_RPM", "0"}})),
        client_(ctx_, daemon_.requests()) {
    REQUIRE(client_.request(call_body("guardian", "good morning", 10))["ok"] == true);
    for (int i = 0; i < 40; ++i) {
      REQUIRE(client_.request(call_body("imperium", "hello", 10))["ok"] == true);
      if (op({{"op", "usage"}, {"ai_name", "imperium"}})["level"] != "normal") break;
    }
    REQUIRE(op({{"op", "usage"}, {"ai_name", "imperium"}})["level"] != "normal");
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

  // tollctl --json ARGS, parsed; it must succeed.
  json tollctl_json(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--json"};
    all.insert(all.end(), args.begin(), args.end());
    Run r = tollctl(all);
    INFO("tollctl output:\n" << r.output);
    REQUIRE(r.status == 0);
    return without_id(json::parse(r.output));
  }

  json op(json body) { return without_id(client_.request(std::move(body))); }
  TestClient& client() { return client_; }
  const std::string& events_endpoint() const { return daemon_.events(); }
  const std::string& requests_endpoint() const { return daemon_.requests(); }

 private:
  FakeProviderProcess fake_;
  TollgatedProcess daemon_;
  zmq::context_t ctx_;
  TestClient client_;
};

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// tollctl ARGS against the daemon at `endpoint`; `bound` is how long it may take.
Run run_tollctl(const std::string& endpoint, std::vector<std::string> args, std::chrono::milliseconds bound) {
  std::vector<std::string> all = {"--endpoint", endpoint};
  all.insert(all.end(), args.begin(), args.end());
  ChildProcess p(bin_dir() + "/tollctl", all, {});
  auto status = p.wait_exit(scaled(bound));
  INFO("tollctl output:\n" << p.output());
  REQUIRE(status.has_value());
  return {*status, p.output()};
}

}  // namespace

TEST_CASE("tollctl status subcommands print tables naming the agents and their usage") {
  Fixture f;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"summary"}, {"usage", "imperium"}, {"provider-status"}, {"emergency-status"}}) {
    Run r = f.tollctl(args);
    INFO(args[0] << ":\n" << r.output);
    CHECK(r.status == 0);
    CHECK(has(r.output, "imperium"));
    CHECK(has(r.output, "anthropic"));
    CHECK(has(r.output, "%"));
  }
  Run summary = f.tollctl({"summary"});
  CHECK(has(summary.output, "guardian"));
  CHECK(has(summary.output, "] "));
  Run one = f.tollctl({"provider-status", "guardian"});
  CHECK(has(one.output, "guardian"));
  CHECK_FALSE(has(one.output, "imperium"));
  Run rec = f.tollctl({"recommend", "guardian"});
  INFO(rec.output);
  CHECK(rec.status == 0);
  auto expected = f.op({{"op", "recommend"}, {"ai_name", "guardian"}});
  CHECK(has(rec.output, "guardian: " + expected["provider"].get<std::string>()));
  CHECK(has(rec.output, expected["reason"].get<std::string>()));
  Run alerts = f.tollctl({"alerts", "--agent", "imperium"});
  CHECK(alerts.status == 0);
  CHECK(has(alerts.output, "warning"));
  CHECK(has(alerts.output, "imperium"));
  Run history = f.tollctl({"history", "imperium", "--months", "3"});
  CHECK(history.status == 0);
  const auto period = f.op({{"op", "summary"}})["period"].get<std::string>();
  CHECK(has(history.output, period));
}

TEST_CASE("tollctl json output equals the reply of the same op") {
  Fixture f;
  CHECK(f.tollctl_json({"summary"}) == f.op({{"op", "summary"}}));
  CHECK(f.tollctl_json({"usage", "imperium"}) == f.op({{"op", "usage"}, {"ai_name", "imperium"}}));
  CHECK(f.tollctl_json({"provider-status"}) == f.op({{"op", "provider_status"}}));
  CHECK(f.tollctl_json({"provider-status", "guardian"}) ==
        f.op({{"op", "provider_status"}, {"ai_name", "guardian"}}));
  CHECK(f.tollctl_json({"recommend", "imperium"}) == f.op({{"op", "recommend"}, {"ai_name", "imperium"}}));
  CHECK(f.tollctl_json({"emergency-status"}) == f.op({{"op", "emergency_status"}}));
  CHECK(f.tollctl_json({"history", "guardian", "--months", "4"}) ==
        f.op({{"op", "history"}, {"ai_name", "guardian"}, {"months", 4}}));
  auto alerts = f.tollctl_json({"alerts"});
  REQUIRE_FALSE(alerts["alerts"].empty());
  CHECK(alerts == f.op({{"op", "alerts"}}));
  CHECK(f.tollctl_json({"alerts", "--agent", "imperium", "--limit", "1", "--since", "2000-01-01T00:00:00Z"}) ==
        f.op({{"op", "alerts"}, {"ai_name", "imperium"}, {"limit", 1}, {"since_ms", 946684800000}}));
  // A date in the future leaves nothing; unix milliseconds work as well.
  CHECK(f.tollctl_json({"alerts", "--since", "2999-01-01"})["alerts"].empty());
  const auto newest = alerts["alerts"][0]["at_ms"].get<int64_t>();
  CHECK(f.tollctl_json({"alerts", "--since", std::to_string(newest)}) ==
        f.op({{"op", "alerts"}, {"since_ms", newest}}));
  auto ping = f.tollctl_json({"ping"});
  auto direct = f.op({{"op", "ping"}});
  CHECK(ping["version"] == direct["version"]);
  CHECK(ping["pid"] == direct["pid"]);
}

TEST_CASE("tollctl exits 1 on an error reply 2 on a usage error and 3 when nobody answers") {
  Fixture f;
  Run bad = f.tollctl({"usage", "bad name!"});
  CHECK(bad.status == 1);
  CHECK(has(bad.output, "tollctl: bad_request: "));
  CHECK(f.tollctl({"--json", "history", "bad name!"}).status == 1);
  CHECK(f.tollctl({}).status == 2);
  CHECK(f.tollctl({"usage"}).status == 2);
  CHECK(f.tollctl({"frobnicate"}).status == 2);
  CHECK(f.tollctl({"history", "imperium", "--months", "0"}).status == 2);
  CHECK(f.tollctl({"alerts", "--since", "yesterday"}).status == 2);
  CHECK(f.tollctl({"ledger-events", "--since", "yesterday"}).status == 2);
  CHECK(f.tollctl({"ledger-events", "--limit", "0"}).status == 2);
  CHECK(f.tollctl({"--timeout", "0", "summary"}).status == 2);
  ChildProcess none(bin_dir() + "/tollctl", {"--endpoint", "tcp://127.0.0.1:1", "--timeout", "300", "summary"}, {});
  CHECK(none.wait_exit(scaled(10s)) == 3);
  CHECK(has(none.output(), "no answer"));
}

TEST_CASE("tollctl reset refuses without a terminal and clears the usage with yes") {
  Fixture f;
  const auto used = f.op({{"op", "usage"}, {"ai_name", "imperium"}})["providers"]["anthropic"]["used"];
  REQUIRE(used.get<uint64_t>() > 0);
  Run refused = f.tollctl({"reset", "imperium"});
  CHECK(refused.status == 2);
  CHECK(has(refused.output, "--yes"));
  CHECK(f.op({{"op", "usage"}, {"ai_name", "imperium"}})["providers"]["anthropic"]["used"] == used);

  auto cleared = f.tollctl_json({"reset", "imperium", "--provider", "anthropic", "--yes"});
  CHECK(cleared["ai_name"] == "imperium");
  CHECK(cleared["cleared"]["anthropic"] == used);
  CHECK(f.op({{"op", "usage"}, {"ai_name", "imperium"}})["providers"]["anthropic"]["used"] == 0);

  Run human = f.tollctl({"reset", "guardian", "--yes"});
  CHECK(human.status == 0);
  CHECK(has(human.output, "reset guardian"));
  CHECK(has(human.output, "cleared"));
  CHECK(f.op({{"op", "usage"}, {"ai_name", "guardian"}})["providers"]["anthropic"]["used"] == 0);

  // Both resets are kept, newest first, as the ledger_events op gives them.
  auto kept = f.tollctl_json({"ledger-events"});
  REQUIRE(kept["events"].size() == 2);
  CHECK(kept == f.op({{"op", "ledger_events"}}));
  CHECK(kept["events"][0]["ai_name"] == "guardian");
  CHECK(kept["events"][1]["cleared"] == json{{"anthropic", used}});
  CHECK(f.tollctl_json({"ledger-events", "--limit", "1", "--since", "2000-01-01"}) ==
        f.op({{"op", "ledger_events"}, {"limit", 1}, {"since_ms", 946684800000}}));
  const std::string used_text = std::to_string(used.get<uint64_t>());  // under 1,000: no comma
  Run listed = f.tollctl({"ledger-events"});
  CHECK(listed.status == 0);
  CHECK(has(listed.output, "reset"));
  CHECK(has(listed.output, "imperium in "));
  CHECK(has(listed.output, std::string("cleared anthropic ").append(used_text)));

  // History shows what the reset cleared.
  Run history = f.tollctl({"history", "imperium", "--months", "1"});
  CHECK(history.status == 0);
  CHECK(has(history.output, "CLEARED"));
  CHECK(has(history.output, std::string(" ").append(used_text).append(" ")));
}

TEST_CASE("tollctl call prints the text and how the call was routed") {
  Fixture f;
  Run human = f.tollctl({"call", "guardian", "tell me about tolls", "--max-tokens", "12", "--system", "be brief"});
  INFO(human.output);
  CHECK(human.status == 0);
  CHECK(has(human.output, "tolls"));
  CHECK(has(human.output, "provider anthropic"));
  CHECK(has(human.output, "reason primary"));
  CHECK(has(human.output, "tokens "));

  auto reply = f.tollctl_json({"call", "guardian", "again please", "--provider", "openai", "--idempotency-key",
                               "tollctl-test-1"});
  CHECK(reply["ok"] == true);
  CHECK(reply["provider"] == "openai");
  CHECK(reply["reason"] == "preferred");
  // The same key through TestClient replays the call tollctl made.
  auto repeat = f.op({{"op", "call"}, {"ai_name", "guardian"}, {"prompt", "again please"},
                      {"preferred_provider", "openai"}, {"idempotency_key", "tollctl-test-1"}});
  CHECK(repeat["replayed"] == true);
  CHECK(repeat["text"] == reply["text"]);
  CHECK(repeat["usage"] == reply["usage"]);

  Run too_many = f.tollctl({"call", "guardian", "hi", "--max-tokens", "100000000"});
  INFO(too_many.output);
  CHECK(too_many.status == 1);
  CHECK(has(too_many.output, "tollctl: bad_request: max_tokens"));
}

TEST_CASE("tollctl call waits for a provider slower than its timeout and is charged what the provider reported") {
  FakeProviderProcess fake({"--fault", "*:delay_ms=2500"});
  TollgatedProcess d(fake.provider_env());
  // --timeout bounds the wait for other ops; a call waits for its own
  // deadline (the daemon's TOLLGATE_CALL_TIMEOUT_MS, 120 s).
  Run r = run_tollctl(d.requests(), {"--json", "--timeout", "1000", "call", "guardian", "take your time"}, 30s);
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto reply = json::parse(r.output);
  CHECK(reply["provider"] == "anthropic");
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto usage = client.request({{"op", "usage"}, {"ai_name", "guardian"}});
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["anthropic"]["used"] == reply["usage"]["total_tokens"]);
  CHECK(usage["providers"]["anthropic"]["used"] == served(fake.stats(), "anthropic"));
}

TEST_CASE("tollctl call past its call timeout reports timeout with exit 4 and not as no answer") {
  FakeProviderProcess fake({"--fault", "*:delay_ms=5000"});
  TollgatedProcess d(fake.provider_env());
  Run r = run_tollctl(d.requests(), {"call", "guardian", "too slow", "--call-timeout-ms", "500"}, 20s);
  INFO(r.output);
  CHECK(r.status == 4);
  CHECK(has(r.output, "tollctl: timeout: "));
  CHECK_FALSE(has(r.output, "no answer"));
  Run help = run_tollctl(d.requests(), {"--help"}, 10s);
  CHECK(help.status == 0);
  CHECK(has(help.output, "4 the daemon"));
  CHECK(has(run_tollctl(d.requests(), {"call", "--help"}, 10s).output, "--call-timeout-ms"));
}

TEST_CASE("tollctl events prints an event published after it connected") {
  Fixture f;
  for (bool as_json : {true, false}) {
    std::vector<std::string> args = {"--events", f.events_endpoint(), "events", "--count", "1", "usage.guardian"};
    if (as_json) args.insert(args.begin(), "--json");
    ChildProcess events(bin_dir() + "/tollctl", args, {});
    // The subscription becomes live at some point after connecting: call
    // until one of the published events reaches it.
    std::optional<int> status;
    for (int i = 0; i < 100 && !status; ++i) {
      REQUIRE(f.client().request(call_body("guardian", "ping " + std::to_string(i), 5))["ok"] == true);
      status = events.wait_exit(200ms);
    }
    INFO("tollctl events output:\n" << events.output());
    REQUIRE(status == 0);
    // The first line is on stderr: what it is waiting for.
    std::string out = events.output();
    REQUIRE(has(out, "tollctl: waiting for events from tollgated at " + f.events_endpoint()));
    out = out.substr(out.find('\n') + 1);
    if (as_json) {
      auto line = json::parse(out.substr(0, out.find('\n')));
      CHECK(line["topic"] == "usage.guardian");
      CHECK(line["ai_name"] == "guardian");
      CHECK(line["provider"] == "anthropic");
      CHECK(line["total_tokens"].get<uint64_t>() > 0);
      CHECK(line.contains("seq"));
    } else {
      CHECK(has(out, "usage.guardian"));
      CHECK(has(out, "anthropic/"));
      CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    }
  }
}

// The rendering helpers are pure; tollctl_test compiles render.cpp in.
TEST_CASE("usage bars fill by percentage and name the level from 80 percent up") {
  using tollgate::tools::usage_bar;
  const tollgate::tools::Style plain;
  CHECK(usage_bar(45.2, plain) == "[#########-----------]  45.2%");
  CHECK(usage_bar(0.0, plain) == "[--------------------]   0.0%");
  CHECK(usage_bar(82.0, plain) == "[################----]  82.0% warning");
  CHECK(usage_bar(96.0, plain) == "[###################-]  96.0% critical");
  CHECK(usage_bar(98.5, plain) == "[####################]  98.5% emergency");
  CHECK(usage_bar(130.0, plain) == "[####################] 130.0% exhausted");
  CHECK(usage_bar(45.2, plain).find('\033') == std::string::npos);
  const tollgate::tools::Style color{true};
  const auto colored = usage_bar(96.0, color);
  CHECK(colored.find("\033[") == 0);
  CHECK(colored.find("critical") != std::string::npos);
  CHECK(colored.find("\033[0m") != std::string::npos);
}

TEST_CASE("tables pad columns to the widest cell ignoring colour codes") {
  tollgate::tools::Table t({"NAME", "USED"}, "lr");
  t.add({"imperium", "1,234"});
  t.add({"\033[31mab\033[0m", "5"});
  std::ostringstream out;
  t.print(out, tollgate::tools::Style{});
  CHECK(out.str() == "NAME       USED\nimperium  1,234\n\033[31mab\033[0m            5\n");
}

TEST_CASE("tollctl names an unknown command a bad max_tokens and a silent events endpoint plainly") {
  Fixture f;
  Run bogus = f.tollctl({"bogus"});
  CHECK(bogus.status == 2);
  CHECK(has(bogus.output, "unknown command 'bogus'"));
  CHECK(has(bogus.output, "summary"));
  Run zero = f.tollctl({"call", "guardian", "hi", "--max-tokens", "0"});
  CHECK(zero.status == 2);
  CHECK(has(zero.output, "--max-tokens 0: must be a whole number of at least 1"));
  CHECK_FALSE(has(zero.output, "e+308"));
  // Nobody publishes here: it says what it waits for, and --timeout bounds
  // the wait for the first event.
  Run silent = run_tollctl("tcp://127.0.0.1:9", {"--events", "tcp://127.0.0.1:9", "--timeout", "300", "events"},
                           10s);
  CHECK(silent.status == 3);
  CHECK(has(silent.output, "waiting for events from tollgated at tcp://127.0.0.1:9"));
  CHECK(has(silent.output, "no event from tcp://127.0.0.1:9 within 300 ms"));
}

TEST_CASE("tollctl requests carry ids unique across runs") {
  Fixture f;
  auto first = json::parse(f.tollctl({"--json", "ping"}).output);
  auto second = json::parse(f.tollctl({"--json", "ping"}).output);
  REQUIRE(first["id"].is_string());
  CHECK(first["id"].get<std::string>().rfind("tollctl-", 0) == 0);
  CHECK(first["id"] != second["id"]);
}

TEST_CASE("tollctl call prints the tool calls of a reply with their input and the stop reason") {
  const json reply = {{"ok", true}, {"text", "checking"}, {"provider", "anthropic"}, {"model", "m"},
                      {"reason", "primary"}, {"cost_usd", 0.5}, {"stop_reason", "tool_use"},
                      {"usage", {{"input_tokens", 10}, {"output_tokens", 2}, {"total_tokens", 12},
                                 {"cache_read_input_tokens", 8}}},
                      {"content", {{{"type", "text"}, {"text", "checking"}},
                                   {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "get_weather"},
                                    {"input", {{"city", "Paris"}}}}}}};
  std::ostringstream out;
  std::ostringstream info;
  tollgate::tools::render_call(reply, out, info);
  CHECK(out.str() == "checking\ntool_use get_weather (toolu_1): {\"city\":\"Paris\"}\n");
  INFO(info.str());
  CHECK(has(info.str(), "  stop tool_use"));
  CHECK(has(info.str(), "(cache: 8 read, - written)"));
  std::ostringstream old_out;
  std::ostringstream old_info;
  tollgate::tools::render_call({{"text", "hi"}, {"stop_reason", nullptr}}, old_out, old_info);
  CHECK(old_out.str() == "hi\n");
  CHECK_FALSE(has(old_info.str(), "stop"));
}

TEST_CASE("tollctl call --request sends the call fields of a json file") {
  Fixture f;
  TempDir dir;
  const std::string file = dir.path() + "/call.json";
  {
    std::ofstream out(file);
    out << R"({"messages": [{"role": "user", "content": "hello from a file"}], "max_tokens": 12})";
  }
  auto reply = f.tollctl_json({"call", "guardian", "--request", file, "--idempotency-key", "from-file-1"});
  CHECK(reply["ok"] == true);
  // The same messages through TestClient replay the call: the file's fields were sent.
  auto repeat = f.op({{"op", "call"}, {"ai_name", "guardian"}, {"max_tokens", 12},
                      {"messages", {{{"role", "user"}, {"content", "hello from a file"}}}},
                      {"idempotency_key", "from-file-1"}});
  CHECK(repeat["replayed"] == true);

  {
    std::ofstream out(file);
    out << R"({"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]})";
  }
  Run broken = f.tollctl({"call", "guardian", "--request", file});
  INFO(broken.output);
  CHECK(broken.status == 2);
  CHECK(has(broken.output, "tollctl: --request " + file + ": messages[0].content[0].tool_use_id: required"));
  CHECK(f.tollctl({"call", "guardian", "a prompt", "--request", file}).status == 2);
  CHECK(f.tollctl({"call", "guardian"}).status == 2);
}

TEST_CASE("tollctl call --stream prints the reply as its parts come and then how it was routed") {
  FakeProviderProcess fake({"--fault", "anthropic:event_delay_ms=20"});
  TollgatedProcess d(fake.provider_env());
  Run human = run_tollctl(d.requests(), {"call", "guardian", "one two three", "--stream"}, 30s);
  INFO(human.output);
  REQUIRE(human.status == 0);
  CHECK(has(human.output, "echo: one two three"));
  CHECK(has(human.output, "provider anthropic"));

  Run machine = run_tollctl(d.requests(), {"--json", "call", "guardian", "four five", "--stream"}, 30s);
  INFO(machine.output);
  REQUIRE(machine.status == 0);
  // One JSON line per message: the parts, then the reply.
  std::istringstream lines(machine.output);
  std::vector<json> messages;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) messages.push_back(json::parse(line));
  }
  REQUIRE(messages.size() == 4);  // "echo:", " four", " five", the reply
  std::string text;
  for (size_t i = 0; i + 1 < messages.size(); ++i) {
    CHECK(messages[i]["part"] == i + 1);
    text += messages[i]["chunk"]["text"].get<std::string>();
  }
  CHECK_FALSE(messages.back().contains("chunk"));
  CHECK(messages.back()["text"] == text);
  CHECK(text == "echo: four five");
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto usage = client.request({{"op", "usage"}, {"ai_name", "guardian"}});
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["anthropic"]["used"] == served(fake.stats(), "anthropic"));
}
