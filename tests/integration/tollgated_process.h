// Test harness: runs the real build/bin/tollgated as a child process on
// ephemeral loopback endpoints with a fresh data directory, captures its
// stdout, and reads back the endpoints it bound from its "ready" line.
//
// Waiting is on output (a condition variable fed by a reader thread), never
// on sleep. One TollgatedProcess per test; not shared between threads except
// through its own methods.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tollgate::testing {

// Directory of the built binaries: $TOLLGATE_BIN_DIR (set by CTest).
std::string bin_dir();

// Sanitizer builds run the binaries several times slower (TSan 5-15x on
// CPU). `make test-tsan` sets TOLLGATE_TEST_TIME_SCALE (a number >= 1; unset,
// empty or unreadable means 1), and scaled() stretches a bounded wait by it.
// Scale only bounds on something that is expected to happen (a reply, an
// exit, a line); a wait that expects NOTHING to happen stays unscaled, or
// it would only make the test slower.
double time_scale();
std::chrono::milliseconds scaled(std::chrono::milliseconds bound);

// Fails the running test (CHECK, main thread only) if `output` holds a
// sanitizer report. With halt_on_error a report ends the process, and the
// test would otherwise only see the side effects (a dropped connection, no
// reply) without the reason; `who` names the process in the message.
void check_no_sanitizer_report(const std::string& who, const std::string& output);

// Recognisable API keys the harness hands to every daemon that talks to a
// provider. No tollgated log line may ever contain them, at any level:
// ~TollgatedProcess checks its whole output.
inline constexpr const char* kTestAnthropicKey = "sk-ant-test-zzKEYzz";
inline constexpr const char* kTestOpenAiKey = "sk-openai-test-zzKEYzz";

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process whose stdout+stderr is captured line by line.
class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env);
  ~ChildProcess();  // SIGKILLs and reaps if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until some output line contains `needle`; returns that line.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  // Everything printed so far.
  std::string output() const;
  void signal(int sig) const;
  // Waits for exit; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  void read_loop(int fd);

  pid_t pid_ = -1;
  std::optional<int> status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;  // guarded by mu_
  bool eof_ = false;    // guarded by mu_
  std::jthread reader_;
};

// tollgated on ephemeral endpoints. Extra environment variables override the
// harness defaults (TOLLGATE_LISTEN/EVENTS on 127.0.0.1:0, a fresh data dir,
// TOLLGATE_HTTP=off, TOLLGATE_LOG_LEVEL=debug). The constructor waits for
// the ready line; the destructor kills the daemon if it still runs and
// checks that its output never contained a test API key.
class TollgatedProcess {
 public:
  explicit TollgatedProcess(std::map<std::string, std::string> env = {},
                            std::vector<std::string> args = {});
  ~TollgatedProcess();
  TollgatedProcess(const TollgatedProcess&) = delete;
  TollgatedProcess& operator=(const TollgatedProcess&) = delete;

  const std::string& requests() const { return requests_; }
  const std::string& events() const { return events_; }
  // The HTTP listener as bound ("127.0.0.1:PORT"), or "off".
  const std::string& http() const { return http_; }
  const std::string& data_dir() const { return data_dir_; }
  ChildProcess& process() { return *child_; }

 private:
  std::optional<TempDir> owned_dir_;
  std::string data_dir_;
  std::unique_ptr<ChildProcess> child_;
  std::string requests_;
  std::string events_;
  std::string http_;
};

}  // namespace tollgate::testing
