// `tollctl events`: a SUB socket on the events endpoint printing one line
// per event as it arrives. SIGINT/SIGTERM only set a flag; the poll loop
// wakes at least every kPollSlice to notice it and exits cleanly.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <iostream>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "protocol/json_bridge.h"
#include "tools/tollctl/commands.h"
#include "tools/tollctl/render.h"

namespace tollgate::tools {
namespace {

constexpr std::chrono::milliseconds kPollSlice{200};

// Written only by the signal handler (the one place a signal may touch).
volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: let poll return EINTR promptly
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Receives one [topic, body] event if one is waiting; prints it.
bool print_one(zmq::socket_t& sub, const GlobalOptions& o, const Style& style) {
  zmq::message_t topic;
  if (!sub.recv(topic, zmq::recv_flags::dontwait)) return false;
  std::string body_bytes;
  while (topic.more()) {  // take the body; ignore any unexpected extra frames
    zmq::message_t part;
    (void)sub.recv(part);
    if (body_bytes.empty()) body_bytes = part.to_string();
    if (!part.more()) break;
  }
  auto body = protocol::to_json(body_bytes);
  nlohmann::json parsed = body.ok() ? *body : nlohmann::json(nullptr);
  if (o.json) {
    nlohmann::json line = parsed.is_object() ? parsed : nlohmann::json{{"body", parsed}};
    line["topic"] = topic.to_string();
    std::cout << line.dump() << std::endl;
  } else {
    std::cout << render_event(topic.to_string(), parsed, style) << std::endl;
  }
  return true;
}

}  // namespace

int run_events(const GlobalOptions& o, const EventsArgs& args) {
  install_handlers();
  const Style style = detect_style();
  uint64_t printed = 0;
  try {
    zmq::context_t ctx(1);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    if (o.curve) apply_client_keys(sub, *o.curve);
    if (args.prefixes.empty()) {
      sub.set(zmq::sockopt::subscribe, "");
    } else {
      for (const auto& p : args.prefixes) sub.set(zmq::sockopt::subscribe, p);
    }
    sub.connect(o.events_endpoint);
    // A SUB socket says nothing when nobody publishes: say what it waits for.
    std::cerr << "tollctl: waiting for events from tollgated at " << o.events_endpoint
              << (args.first_event_timeout_ms
                      ? " (up to " + std::to_string(*args.first_event_timeout_ms) + " ms for the first)"
                      : std::string(" (Ctrl-C stops)"))
              << "\n";
    const auto first_deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(args.first_event_timeout_ms.value_or(0));
    while (g_stop == 0 && (!args.count || printed < *args.count)) {
      if (printed == 0 && args.first_event_timeout_ms &&
          std::chrono::steady_clock::now() >= first_deadline) {
        std::cerr << "tollctl: no event from " << o.events_endpoint << " within "
                  << *args.first_event_timeout_ms << " ms (is tollgated running there?)\n";
        return kExitNoAnswer;
      }
      zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, kPollSlice);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      while ((!args.count || printed < *args.count) && print_one(sub, o, style)) ++printed;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return kExitOk;
    std::cerr << "tollctl: " << o.events_endpoint << ": " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace tollgate::tools
