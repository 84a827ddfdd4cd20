// Test helper: start a built binary as a child process, read lines from its
// stdout, and stop it. Header-only and independent of Catch (failures to
// start throw std::runtime_error, which Catch reports as a test failure).
//
// Waiting is on events — a line of output (condition variable fed by a
// reader thread) or the child's exit (a pidfd) — never on sleep. The child's
// stderr is inherited, so its logs appear in the test output.
//
// One Subprocess per child; its methods may be called from any thread.
// The destructor stops the child (SIGTERM, then SIGKILL after 10 s) and
// reaps it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace tollgate::testing {

// <$TOLLGATE_BIN_DIR or build/bin>/<name>. CTest sets TOLLGATE_BIN_DIR.
inline std::string binary_path(const std::string& name) {
  const char* dir = std::getenv("TOLLGATE_BIN_DIR");
  return std::string(dir ? dir : "build/bin") + "/" + name;
}

class Subprocess {
 public:
  // Starts `binary` with `args` (argv[0] is the binary) and the current
  // environment plus `extra_env` entries ("NAME=value").
  Subprocess(const std::string& binary, const std::vector<std::string>& args,
             const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> argv_s = {binary};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; e && *e; ++e) env_s.emplace_back(*e);
    env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    int read_fd = fds[0];
    reader_ = std::jthread([this, read_fd] { read_loop(read_fd); });
  }

  ~Subprocess() { stop(); }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // The first complete stdout line starting with `prefix`; nullopt when the
  // timeout passes or stdout closes first.
  std::optional<std::string> wait_for_line(std::string_view prefix,
                                           std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<std::string> found;
    auto search = [&] {
      size_t begin = 0;
      for (size_t end; (end = output_.find('\n', begin)) != std::string::npos; begin = end + 1) {
        std::string_view line(output_.data() + begin, end - begin);
        if (line.substr(0, prefix.size()) == prefix) {
          found = std::string(line);
          return true;
        }
      }
      return eof_;
    };
    cv_.wait_for(lock, timeout, search);
    return found;
  }

  // Everything the child printed on stdout so far.
  std::string output() const {
    std::lock_guard lock(mu_);
    return output_;
  }

  // Sends `sig`, waits up to `grace` for the exit, then SIGKILLs. Returns the
  // exit code, or 128 + signal number when a signal ended the child.
  // Idempotent: later calls return the first result.
  int stop(int sig = SIGTERM, std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    std::lock_guard lock(stop_mu_);
    if (status_) return *status_;
    ::kill(pid_, sig);
    if (!wait_exit(grace)) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::milliseconds(-1));
    }
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (pidfd_ >= 0) close(pidfd_);
    if (reader_.joinable()) reader_.join();  // EOF follows the exit
    return *status_;
  }

 private:
  // True when the child has exited (not yet reaped) within `timeout`
  // (negative: forever).
  bool wait_exit(std::chrono::milliseconds timeout) {
    if (pidfd_ < 0) {  // no pidfd support: block in waitpid instead
      return timeout.count() < 0;
    }
    pollfd p{pidfd_, POLLIN, 0};
    int rc;
    while ((rc = ::poll(&p, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
    }
    return rc > 0;
  }

  void read_loop(int fd) {
    char buf[4096];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu_);
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        break;
      }
      output_.append(buf, static_cast<size_t>(n));
      cv_.notify_all();
    }
    close(fd);
  }

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::mutex stop_mu_;
  std::optional<int> status_;  // guarded by stop_mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;  // guarded by mu_
  bool eof_ = false;    // guarded by mu_
  std::jthread reader_;
};

// build/bin/fake-provider on an ephemeral loopback port. The constructor
// returns once the server printed "listening 127.0.0.1:PORT" (it accepts
// connections from then on); throws if it does not within 10 s.
class FakeProviderProcess {
 public:
  explicit FakeProviderProcess(std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {"--port", "0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Subprocess>(binary_path("fake-provider"), args);
    auto line = process_->wait_for_line("listening ", std::chrono::seconds(10));
    if (!line) throw std::runtime_error("fake-provider did not report its port");
    port_ = std::stoi(line->substr(line->rfind(':') + 1));
  }

  int port() const { return port_; }
  // "http://127.0.0.1:PORT": ANTHROPIC_BASE_URL; OPENAI_BASE_URL may be
  // this or this + "/v1".
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Subprocess& process() { return *process_; }

 private:
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

}  // namespace tollgate::testing
