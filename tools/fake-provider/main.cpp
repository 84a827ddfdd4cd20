// fake-provider: a local HTTP server that speaks the Anthropic Messages and
// OpenAI Chat Completions APIs, with fault injection, for tests, the demo and
// benchmarks. See fake_provider.h for routes and behaviour, fault_script.h
// for the fault syntax.
//
// Prints "listening HOST:PORT" on stdout once bound (flushed), so callers can
// pass --port 0 and read the port back. Exits 0 on SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

// CLI11 2.1 trips g++ 12's -Wnull-dereference inside its own string helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdio>
#include <iostream>
#include <thread>

#include "tools/fake-provider/fake_provider.h"

namespace {

using tollgate::fake_provider::FakeProvider;
using tollgate::fake_provider::FakeProviderOptions;
using tollgate::fake_provider::Fault;

// httplib listens with a backlog of 5: a burst of connects overflows it and
// the dropped SYNs are retried only after a second or more. Linux lets a
// second listen() on the bound socket raise the backlog.
class Server : public httplib::Server {
 public:
  bool raise_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
  // httplib's stop() does nothing until listen_after_bind() has set its
  // running flag, so a SIGTERM that arrives between "listening" and that
  // moment (a test signals right after reading the line) was lost and the
  // fake served on forever. Closing the bound socket works in either order:
  // listen_after_bind() then returns at once, or its accept() fails and it
  // returns as after stop().
  void stop_listening() {
    int sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock == INVALID_SOCKET) return;
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
};

struct Args {
  std::string host = "127.0.0.1";
  int port = 0;
  size_t threads = 64;
  FakeProviderOptions provider;
  std::vector<std::string> faults;
};

int serve(const Args& args, const std::vector<Fault>& faults) {
  // Block the stop signals in every thread; one thread takes them with
  // sigwait, so no async-signal-safety concerns arise.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeProvider provider(args.provider);
  provider.faults().replace(faults);
  Server server;
  const size_t threads = args.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_keep_alive_max_count(100000);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle
  // holds the body for the client's delayed ACK (~40 ms per request).
  server.set_tcp_nodelay(true);
  server.set_keep_alive_timeout(2);
  provider.install(server);

  int port = args.port;
  if (port == 0) {
    port = server.bind_to_any_port(args.host);
  } else if (!server.bind_to_port(args.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    std::cerr << "fake-provider: cannot bind " << args.host << ":" << args.port << "\n";
    return 1;
  }
  if (!server.raise_backlog(SOMAXCONN)) {
    std::cerr << "fake-provider: cannot raise the listen backlog\n";
  }
  std::cout << "listening " << args.host << ":" << port << std::endl;

  std::jthread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    provider.shutdown();
    server.stop_listening();
  });
  bool ok = server.listen_after_bind();
  // Listening ended on its own (not by a signal): release the waiter.
  provider.shutdown();
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"fake-provider: local Anthropic/OpenAI stand-in with fault injection"};
  app.footer(
      "Tool calls: when a request offers tools, a final user message containing\n"
      "  [call_tool NAME]  or  [call_tool NAME {\"json\": \"input\"}]\n"
      "gets a tool_use block (Anthropic) / tool_calls entry (OpenAI) per marker, in\n"
      "order (two markers: parallel calls); without JSON the input is built from the\n"
      "tool's schema (its required properties). tool_choice any/required or a named\n"
      "tool forces a call without a marker; tool_choice none ignores markers. A turn\n"
      "carrying tool results is answered \"tool result: ...\" per result. Replies are\n"
      "cut before the request's first stop sequence they contain. \"stream\": true\n"
      "answers in server-sent events. Control: GET/POST/DELETE /_control/faults,\n"
      "GET /_control/stats, POST /_control/reset (stats and prompt caches),\n"
      "GET /_control/health.\n"
      "Faults (--fault, repeatable; API anthropic, openai or *): status=N retry_after=S\n"
      "times=N every=N delay_ms=MS truncate drop no_usage invalid_json\n"
      "insufficient_quota output_tokens=N extra_output_tokens=N body_bytes=N; on\n"
      "streamed requests only: stream_cut_after=N stream_stall_after=N:stall_ms=MS\n"
      "stream_error_after=N split=BYTES event_delay_ms=MS (N counts events sent).\n"
      "See tools/fake-provider/fault_script.h.");
  app.add_option("--host", args.host, "address to bind")->capture_default_str();
  app.add_option("--port", args.port, "port; 0 picks a free one")->capture_default_str();
  app.add_option("--threads", args.threads, "server threads (one per open connection)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--output-tokens", args.provider.output_tokens,
                 "output tokens per reply (capped by max_tokens)")
      ->capture_default_str();
  app.add_option("--api-key", args.provider.api_key, "accept only this key (default: any)");
  app.add_flag("--no-auth", args.provider.no_auth,
               "accept requests without a key too, as a local server (vLLM, Ollama) does");
  app.add_option("--tokenizer", args.provider.tokenizer,
                 "input token count: bytes4 (ceil(bytes/4)) or chars (one per code point, "
                 "+3 per message and per request)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bytes4", "chars"}));
  app.add_option("--fault", args.faults,
                 "fault script entry, e.g. anthropic:status=529:times=3 (repeatable)");
  CLI11_PARSE(app, argc, argv);

  std::vector<Fault> faults;
  for (const auto& text : args.faults) {
    std::string error;
    auto f = tollgate::fake_provider::parse_fault(text, error);
    if (!f) {
      std::cerr << "fake-provider: " << error << "\n";
      return 2;
    }
    faults.push_back(std::move(*f));
  }
  return serve(args, faults);
}
