// A producer service's call through tollgated with the C++ client
// (clients/cpp, header-only: tollgate/client.hpp).
//
//   cpp_producer_example ENDPOINT [AI_NAME [PROMPT]]
//   cpp_producer_example tcp://127.0.0.1:5555 imperium "Say hello"
//
// Prints the answer, then which provider served it and what it cost; on an
// error prints its code and message and exits 1 (2 for bad usage).
#include <iostream>
#include <string>

#include <tollgate/client.hpp>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::cerr << "usage: " << argv[0] << " ENDPOINT [AI_NAME [PROMPT]]\n";
    return 2;
  }
  tollgate::Options options;
  options.timeout = std::chrono::seconds(60);
  tollgate::Client client(argv[1], options);

  tollgate::CallOptions call;
  call.ai_name = argc > 2 ? argv[2] : "cpp-producer";
  call.prompt = argc > 3 ? argv[3] : "Say hello to the tollgate";
  call.max_tokens = 200;
  call.retries = 1;  // a resend after a client timeout is charged once

  tollgate::Result<tollgate::CallResult> result = client.call(call);
  if (!result.ok()) {
    const tollgate::Error& e = result.error();
    std::cerr << "error " << e.code << ": " << e.message << "\n";
    if (e.retry_after_ms) std::cerr << "retry after " << *e.retry_after_ms << " ms\n";
    return 1;
  }
  std::cout << result->text << "\n";
  std::cout << "provider " << result->provider << " model " << result->model << " reason " << result->reason
            << "\n";
  std::cout << "tokens " << result->usage.total_tokens << " cost_usd " << result->cost_usd << "\n";
  return 0;
}
