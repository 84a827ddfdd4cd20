#include "tools/tollbench/floor_bench.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace tollgate::tollbench {
namespace {

using protocol::Error;
using protocol::Result;
using Steady = std::chrono::steady_clock;

constexpr size_t kRecordBytes = 128;

Error os_error(const std::string& what) { return Error::internal(what + ": " + std::strerror(errno)); }

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

// CPU time of the calling thread, in microseconds.
double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

double micros_since(Steady::time_point t0) {
  return std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
}

std::string format(const char* fmt, double a, double b, unsigned long long n) {
  std::array<char, 256> line{};
  std::snprintf(line.data(), line.size(), fmt, a, b, n);
  return line.data();
}

// A file descriptor closed on every path.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

Result<std::string> floor_flush(const FloorBenchOptions& o) {
  const std::string path = (std::filesystem::path(o.dir) / "tollbench-floor-flush.tmp").string();
  Fd file(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (file.fd < 0) return os_error("floor flush: cannot create " + path);
  // The redo log's way: the blocks exist and are on disk before any record
  // goes in, so a record's fdatasync flushes data only, no file-size change.
  const std::vector<char> zeros(o.rounds * kRecordBytes, 0);
  const bool ready = ::pwrite(file.fd, zeros.data(), zeros.size(), 0) == static_cast<ssize_t>(zeros.size()) &&
                     ::fsync(file.fd) == 0;
  std::array<char, kRecordBytes> record{};
  record.fill('r');
  const double cpu0 = thread_cpu_us();
  const auto t0 = Steady::now();
  bool written = ready;
  for (uint64_t i = 0; written && i < o.rounds; ++i) {
    const auto at = static_cast<off_t>(i * kRecordBytes);
    written = ::pwrite(file.fd, record.data(), record.size(), at) == static_cast<ssize_t>(record.size()) &&
              ::fdatasync(file.fd) == 0;
  }
  const double wall = micros_since(t0);
  const double cpu = thread_cpu_us() - cpu0;
  Result<std::string> out = written ? Result<std::string>(format(
      "floor flush: %.1f us CPU, %.1f us wall per durable record (%llu records of 128 bytes, "
      "pwrite + fdatasync into pre-zeroed blocks)",
      cpu / static_cast<double>(o.rounds), wall / static_cast<double>(o.rounds),
      static_cast<unsigned long long>(o.rounds))) : os_error("floor flush: writing " + path);
  std::filesystem::remove(path);
  return out;
}

// One eventfd each way; the measured thread writes to `there` and reads
// `back`, the peer the opposite. Returns the measured thread's CPU per round.
Result<double> wake_rounds(const FloorBenchOptions& o, int peer_cpu) {
  Fd there(::eventfd(0, EFD_CLOEXEC));
  Fd back(::eventfd(0, EFD_CLOEXEC));
  if (there.fd < 0 || back.fd < 0) return os_error("floor wake: eventfd");
  std::atomic<bool> give_up{false};
  std::jthread peer([&] {
    pin_to(peer_cpu);
    uint64_t v = 0;
    for (uint64_t i = 0; i < o.rounds && !give_up.load(); ++i) {
      if (::read(there.fd, &v, sizeof v) != sizeof v || ::write(back.fd, &v, sizeof v) != sizeof v) return;
    }
  });
  uint64_t v = 1;
  const double cpu0 = thread_cpu_us();
  for (uint64_t i = 0; i < o.rounds; ++i) {
    v = 1;
    if (::write(there.fd, &v, sizeof v) != sizeof v || ::read(back.fd, &v, sizeof v) != sizeof v) {
      Error e = os_error("floor wake: eventfd read/write");
      give_up.store(true);
      v = 1;
      [[maybe_unused]] const ssize_t unblocked = ::write(there.fd, &v, sizeof v);  // its read returns
      return e;
    }
  }
  return (thread_cpu_us() - cpu0) / static_cast<double>(o.rounds);
}

Result<std::string> floor_wake(const FloorBenchOptions& o) {
  auto same = wake_rounds(o, o.cpu);
  if (!same.ok()) return same.error();
  auto across = wake_rounds(o, o.other_cpu);
  if (!across.ok()) return across.error();
  return format(
      "floor wake: %.1f us CPU per wake-up and sleep with the other thread on the same CPU, "
      "%.1f us with it on another CPU (this CPU idle while it sleeps; %llu rounds)",
      *same, *across, static_cast<unsigned long long>(o.rounds));
}

// The child: a DEALER keeping `inflight` messages out until `total` are
// back. Exits, never returns.
[[noreturn]] void zmq_echo_client(const std::string& endpoint, const FloorBenchOptions& o, uint64_t total) {
  pin_to(o.other_cpu);
  int rc = 0;
  try {
    zmq::context_t ctx(1);
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(endpoint);
    const std::string body(200, 'x');  // about a call request's size
    uint64_t sent = 0;
    for (uint64_t got = 0; got < total; ++got) {
      for (; sent < total && sent - got < o.inflight; ++sent) {
        dealer.send(zmq::buffer(body), zmq::send_flags::none);
      }
      zmq::message_t reply;
      if (!dealer.recv(reply)) rc = 1;
    }
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "floor zmq client: %s\n", e.what());
    rc = 1;
  }
  std::fflush(stderr);
  _exit(rc);
}

// The echo client's process: killed and reaped unless it was waited for.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // Its exit status is 0.
  bool exited_ok() {
    int status = 0;
    const bool reaped = ::waitpid(pid, &status, 0) == pid;
    pid = -1;
    return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
};

Result<std::string> floor_zmq(const FloorBenchOptions& o) {
  const uint64_t warmup = std::min<uint64_t>(o.rounds / 10, 1000);
  const uint64_t total = warmup + o.rounds;
  double cpu = 0;
  double wall = 0;
  Child child;
  try {
    zmq::context_t ctx(1);  // its I/O thread inherits this thread's CPU
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::rcvtimeo, 10000);  // a client that died ends the run
    router.bind("tcp://127.0.0.1:*");
    const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
    std::fflush(nullptr);
    child.pid = ::fork();
    if (child.pid < 0) return os_error("floor zmq: fork");
    if (child.pid == 0) zmq_echo_client(endpoint, o, total);
    double cpu0 = 0;
    Steady::time_point t0;
    for (uint64_t done = 0; done < total; ++done) {
      if (done == warmup) {
        cpu0 = process_cpu_us();
        t0 = Steady::now();
      }
      zmq::message_t id;
      zmq::message_t body;
      if (!router.recv(id) || !router.recv(body)) {
        return Error::internal("floor zmq: no message from the client in 10 s");
      }
      router.send(id, zmq::send_flags::sndmore);
      router.send(body, zmq::send_flags::none);
    }
    cpu = process_cpu_us() - cpu0;
    wall = micros_since(t0);
  } catch (const zmq::error_t& e) {
    return Error::internal(std::string("floor zmq: ") + e.what());
  }
  if (!child.exited_ok()) return Error::internal("floor zmq: the client failed");
  const double n = static_cast<double>(o.rounds);
  std::string line = format(
      "floor zmq: %.1f us CPU (this process, ZeroMQ's I/O thread included), %.1f us wall per "
      "round trip through a ROUTER echo (%llu round trips, ",
      cpu / n, wall / n, static_cast<unsigned long long>(o.rounds));
  return line + std::to_string(o.inflight) + " in flight)";
}

}  // namespace

double process_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

Result<std::string> run_floor_bench(const FloorBenchOptions& o) {
  if (o.rounds == 0) return Error::bad_request("floor: --rounds must be at least 1");
  if (!pin_to(o.cpu)) return os_error("floor: cannot run on CPU " + std::to_string(o.cpu));
  if (o.what == "flush") return floor_flush(o);
  if (o.what == "wake") return floor_wake(o);
  if (o.what == "zmq") return floor_zmq(o);
  return Error::bad_request("floor: unknown measurement '" + o.what + "' (flush, wake or zmq)");
}

}  // namespace tollgate::tollbench
