#include "tests/integration/tollgated_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

extern char** environ;

namespace tollgate::testing {

std::string bin_dir() {
  const char* d = std::getenv("TOLLGATE_BIN_DIR");
  return d ? d : "build/bin";
}

double time_scale() {
  const char* text = std::getenv("TOLLGATE_TEST_TIME_SCALE");
  if (!text || !*text) return 1.0;
  char* end = nullptr;
  double scale = std::strtod(text, &end);
  if (*end != '\0' || !(scale >= 1.0)) return 1.0;
  return std::min(scale, 100.0);
}

std::chrono::milliseconds scaled(std::chrono::milliseconds bound) {
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(bound.count()) * time_scale()));
}

void check_no_sanitizer_report(const std::string& who, const std::string& output) {
  // Every sanitizer report has a "WARNING: ThreadSanitizer:",
  // "ERROR: AddressSanitizer:" or "SUMMARY: UndefinedBehaviorSanitizer:" line.
  const size_t at = output.find("Sanitizer:");
  if (at == std::string::npos) return;
  const size_t from = output.rfind('\n', at);
  INFO(who << " printed a sanitizer report:\n"
           << output.substr(from == std::string::npos ? 0 : from + 1, 6000));
  CHECK(at == std::string::npos);
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto p = base / ("tollgate-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p.string();
      return;
    }
  }
  FAIL("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    FAIL("cannot start " << binary << ": " << std::strerror(rc));
  }
  int read_fd = fds[0];
  reader_ = std::jthread([this, read_fd] { read_loop(read_fd); });
}

ChildProcess::~ChildProcess() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  // The reader thread ends at EOF, which the child's exit guarantees.
}

void ChildProcess::read_loop(int fd) {
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

std::optional<std::string> ChildProcess::wait_for_line(const std::string& needle,
                                                       std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<std::string> found;
  auto search = [&] {
    size_t pos = output_.find(needle);
    if (pos == std::string::npos) return false;
    size_t end = output_.find('\n', pos);
    if (end == std::string::npos) return false;  // wait for the whole line
    size_t begin = output_.rfind('\n', pos);
    begin = begin == std::string::npos ? 0 : begin + 1;
    found = output_.substr(begin, end - begin);
    return true;
  };
  cv_.wait_for(lock, timeout, [&] { return search() || eof_; });
  return found;
}

std::string ChildProcess::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

void ChildProcess::signal(int sig) const { ::kill(pid_, sig); }

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  {
    // EOF on the pipe means the child (and anything holding its stdout) ended.
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return eof_; })) return std::nullopt;
  }
  int st = 0;
  if (waitpid(pid_, &st, 0) != pid_) return std::nullopt;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return status_;
}

TollgatedProcess::TollgatedProcess(std::map<std::string, std::string> env,
                                   std::vector<std::string> args) {
  if (env.count("TOLLGATE_DATA_DIR")) {
    data_dir_ = env["TOLLGATE_DATA_DIR"];
  } else {
    owned_dir_.emplace();
    data_dir_ = owned_dir_->path();
  }
  std::map<std::string, std::string> defaults = {
      {"TOLLGATE_LISTEN", "tcp://127.0.0.1:0"},
      {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
      {"TOLLGATE_DATA_DIR", data_dir_},
      {"TOLLGATE_HTTP", "off"},
      // Debug: the key check below covers every level.
      {"TOLLGATE_LOG_LEVEL", "debug"},
  };
  for (const auto& [k, v] : env) defaults[k] = v;
  child_ = std::make_unique<ChildProcess>(bin_dir() + "/tollgated", args, defaults);
  auto ready = child_->wait_for_line("ready requests=", scaled(std::chrono::seconds(20)));
  INFO("tollgated output:\n" << child_->output());
  REQUIRE(ready.has_value());
  auto field = [&](const std::string& key) {
    auto pos = ready->find(key + "=");
    REQUIRE(pos != std::string::npos);
    pos += key.size() + 1;
    return ready->substr(pos, ready->find(' ', pos) - pos);
  };
  requests_ = field("requests");
  events_ = field("events");
  http_ = field("http");
}

TollgatedProcess::~TollgatedProcess() {
  if (!child_) return;
  if (!child_->wait_exit(std::chrono::milliseconds(0))) {
    child_->signal(SIGKILL);
    child_->wait_exit(scaled(std::chrono::seconds(10)));
  }
  const std::string out = child_->output();
  check_no_sanitizer_report("tollgated", out);
  for (const char* key : {kTestAnthropicKey, kTestOpenAiKey}) {
    INFO("an API key appeared in tollgated's output");
    CHECK(out.find(key) == std::string::npos);
  }
}

}  // namespace tollgate::testing
