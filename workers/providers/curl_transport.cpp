// DESIGN: one CURLM, driven by its owner's loop through the multi socket
// interface. submit() appends a CurlTransfer to waiting; perform() gives
// waiting transfers an easy handle while fewer than max_active_transfers
// are active, hands curl the sockets the last wait() saw ready (and its
// timer, when due) with curl_multi_socket_action, reaps finished transfers
// (curl_multi_info_read) and runs their callbacks, then starts what those
// callbacks submitted. wait() is one epoll_wait on the sockets curl asked
// to watch and on wakeup()'s eventfd (CurlSockets), so a round touches
// only the transfers whose sockets are ready. Nothing is added
// to the multi handle from inside a curl callback (on_chunk runs in one):
// submissions always queue.
// Connections live in the multi handle's cache, so keep-alive reuse does
// not depend on reusing easy handles; finished easy handles are still
// reset and kept (up to kSpareEasyHandles) for the next transfers, which
// spares each transfer libcurl's allocation and set-up of a handle and its
// buffers.
#include "workers/providers/curl_transport.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "workers/providers/curl_sockets.h"

namespace tollgate::workers {
namespace {

constexpr const char* kShuttingDown = "shutting down";
// Easy handles kept for reuse after their transfers end.
constexpr size_t kSpareEasyHandles = 64;

// A function-local static is initialised once, thread-safely (and again
// by the next caller when the first attempt threw).
void global_init_once() {
  static const bool initialised = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
    return true;
  }();
  (void)initialised;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

struct CurlTransfer {
  TransferId id = 0;
  HttpRequest request;
  HttpRequestOptions options;
  ChunkCallback on_chunk;
  DoneCallback on_done;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  bool over_size = false;
  size_t body_bytes = 0;  // every body byte received (a stream's are not kept)
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();

  ~CurlTransfer() {
    if (easy) curl_easy_cleanup(easy);
    if (header_list) curl_slist_free_all(header_list);
  }
};

namespace {

using TransferQueue = std::deque<std::unique_ptr<CurlTransfer>>;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<CurlTransfer*>(user);
  size_t n = size * count;
  if (t->body_bytes + n > t->options.max_response_bytes) {
    t->over_size = true;
    return 0;  // any short count aborts the transfer
  }
  t->body_bytes += n;
  if (t->options.stream) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
      t->response.body.append(data, n);  // the provider's error, read at the end
      return n;
    }
  } else {
    t->response.body.append(data, n);
  }
  if (t->on_chunk) {
    // An exception must not cross libcurl's C frames.
    try {
      t->on_chunk(std::string_view(data, n));
    } catch (const std::exception& e) {
      spdlog::error("curl transport: chunk callback threw: {}", e.what());
    }
  }
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<CurlTransfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after 100 Continue or a redirect)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->response.headers[name] = std::string(trim(line.substr(colon + 1)));
  return n;
}

}  // namespace

struct CurlTransport::Impl {
  explicit Impl(CurlTransportOptions o) : options(std::move(o)) {
    global_init_once();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, options.max_connections);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
    sockets.attach(multi);
  }

  ~Impl() {
    for (CURL* easy : spare) curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);  // may still call the socket callback
  }

  bool configure(CurlTransfer& t);
  CURL* take_easy();
  // Takes t's easy handle (already removed from the multi handle) back
  // for later transfers.
  void recycle(CurlTransfer& t);
  void start(std::unique_ptr<CurlTransfer> t);
  void start_waiting();
  void reap();
  void abort_all();
  void report_finished();
  void apply_cancels();
  bool can_start() const { return !waiting.empty() && active.size() < options.max_active_transfers; }
  // Counts the transfer done, then runs its on_done.
  void complete(CurlTransfer& t) {
    --pending;
    try {
      t.on_done(std::move(t.response));
    } catch (const std::exception& e) {
      spdlog::error("curl transport: completion callback threw: {}", e.what());
    }
  }
  void complete_with(CurlTransfer& t, std::string error, bool request_sent) {
    t.response.error = std::move(error);
    t.response.request_sent = request_sent;
    complete(t);
  }

  // Constant after construction.
  const CurlTransportOptions options;
  CurlSockets sockets;  // declared before multi: outlives it
  CURLM* multi = nullptr;

  std::atomic<size_t> pending{0};  // submitted, on_done not yet run

  // Driving thread only. Transfers beyond max_active_transfers wait
  // without an easy handle (libcurl allocates its buffers per handle).
  std::unordered_map<CURL*, std::unique_ptr<CurlTransfer>> active;
  TransferQueue waiting;
  TransferQueue finished;  // ended without starting (after stop): report at perform()
  // cancel() calls not applied yet: applied at perform(), outside curl's
  // callbacks (a chunk callback may cancel).
  std::vector<std::pair<TransferId, std::string>> cancels;
  std::vector<CURL*> spare;  // reset easy handles, at most kSpareEasyHandles
  TransferId next_id = 1;
  bool stopped = false;
};

bool CurlTransport::Impl::configure(CurlTransfer& t) {
  CURL* e = t.easy;
  const HttpRequest& r = t.request;
  bool ok = true;
  auto set = [&](CURLoption opt, auto value) { ok = ok && curl_easy_setopt(e, opt, value) == CURLE_OK; };
  set(CURLOPT_URL, r.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t.options.connect_timeout_ms));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(t.options.total_timeout_ms));
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.options.max_response_bytes));
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_USERAGENT, options.user_agent.c_str());
  set(CURLOPT_ERRORBUFFER, t.error_buffer);
  set(CURLOPT_PRIVATE, static_cast<void*>(&t));
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  if (r.method == "POST") {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDS, r.body.data());
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else if (r.method != "GET") {
    set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (!r.body.empty()) {
      set(CURLOPT_POSTFIELDS, r.body.data());
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    }
  }
  for (const auto& [name, value] : r.headers) {
    std::string line = name + ": " + value;
    curl_slist* next = curl_slist_append(t.header_list, line.c_str());
    if (!next) return false;
    t.header_list = next;
  }
  // No "Expect: 100-continue" round trip for large bodies.
  curl_slist* next = curl_slist_append(t.header_list, "Expect:");
  if (!next) return false;
  t.header_list = next;
  set(CURLOPT_HTTPHEADER, t.header_list);
  return ok;
}

CURL* CurlTransport::Impl::take_easy() {
  if (spare.empty()) return curl_easy_init();
  CURL* easy = spare.back();
  spare.pop_back();
  return easy;
}

void CurlTransport::Impl::recycle(CurlTransfer& t) {
  CURL* easy = std::exchange(t.easy, nullptr);
  if (spare.size() >= kSpareEasyHandles) {
    curl_easy_cleanup(easy);
    return;
  }
  curl_easy_reset(easy);  // every option back to its default; connections stay in the multi
  spare.push_back(easy);
}

void CurlTransport::Impl::start(std::unique_ptr<CurlTransfer> t) {
  t->easy = take_easy();
  if (!t->easy || !configure(*t)) {
    complete_with(*t, "cannot set up the transfer for " + t->request.url, false);
    return;
  }
  if (CURLMcode mc = curl_multi_add_handle(multi, t->easy); mc != CURLM_OK) {
    complete_with(*t, std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc), false);
    return;
  }
  CURL* key = t->easy;
  active.emplace(key, std::move(t));
}

void CurlTransport::Impl::start_waiting() {
  while (can_start()) {
    std::unique_ptr<CurlTransfer> t = std::move(waiting.front());
    waiting.pop_front();
    // The total timeout counts from submit(): time spent waiting here too.
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t->submitted).count();
    int64_t left = t->options.total_timeout_ms - waited;
    if (left <= 0) {
      // Never sent: reported like a refused connection, not a timeout, so
      // the caller knows the provider cannot have served it.
      t->response.curl_code = CURLE_COULDNT_CONNECT;
      complete_with(*t, "no connection became free within the total timeout", false);
      continue;
    }
    t->options.total_timeout_ms = left;
    t->options.connect_timeout_ms = std::min(t->options.connect_timeout_ms, left);
    start(std::move(t));
  }
}

void CurlTransport::Impl::reap() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    auto it = active.find(easy);
    if (it == active.end()) continue;
    std::unique_ptr<CurlTransfer> t = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi, easy);

    HttpResponse& resp = t->response;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_off_t micros = 0;
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &micros);
    resp.total_time_ms = static_cast<double>(micros) / 1000.0;
    long request_bytes = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    resp.request_sent = request_bytes > 0;
    resp.curl_code = static_cast<int>(code);
    if (t->over_size || code == CURLE_FILESIZE_EXCEEDED) {
      resp.error = "response over " + std::to_string(t->options.max_response_bytes) + " bytes";
    } else if (code != CURLE_OK) {
      resp.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      resp.error = t->error_buffer[0] ? t->error_buffer : curl_easy_strerror(code);
    }
    recycle(*t);
    complete(*t);
  }
}

void CurlTransport::Impl::report_finished() {
  TransferQueue done;
  done.swap(finished);  // what these callbacks submit waits for the next round
  for (auto& t : done) complete_with(*t, kShuttingDown, false);
}

void CurlTransport::Impl::apply_cancels() {
  std::vector<std::pair<TransferId, std::string>> todo;
  todo.swap(cancels);
  for (auto& [id, reason] : todo) {
    auto it = std::find_if(active.begin(), active.end(),
                           [id = id](const auto& entry) { return entry.second->id == id; });
    if (it != active.end()) {
      std::unique_ptr<CurlTransfer> t = std::move(it->second);
      CURL* easy = it->first;
      active.erase(it);
      long request_bytes = 0;
      curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->response.status);
      curl_multi_remove_handle(multi, easy);
      recycle(*t);
      t->response.cancelled = true;
      complete_with(*t, std::move(reason), request_bytes > 0);
      continue;
    }
    auto queued = std::find_if(waiting.begin(), waiting.end(),
                               [id = id](const auto& t) { return t->id == id; });
    if (queued != waiting.end()) {
      std::unique_ptr<CurlTransfer> t = std::move(*queued);
      waiting.erase(queued);
      t->response.cancelled = true;
      complete_with(*t, std::move(reason), false);
    }
  }
}

void CurlTransport::Impl::abort_all() {
  std::unordered_map<CURL*, std::unique_ptr<CurlTransfer>> aborted;
  aborted.swap(active);
  for (auto& [easy, t] : aborted) {
    long request_bytes = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    curl_multi_remove_handle(multi, easy);
    complete_with(*t, kShuttingDown, request_bytes > 0);
  }
  // Transfers that never got an easy handle never left this process.
  TransferQueue queued;
  queued.swap(waiting);
  for (auto& t : queued) complete_with(*t, kShuttingDown, false);
  report_finished();
}

CurlTransport::CurlTransport(CurlTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

CurlTransport::~CurlTransport() {
  stop();
  // What the last callbacks submitted: told "shutting down" too.
  while (!impl_->finished.empty()) impl_->report_finished();
}

TransferId CurlTransport::submit(HttpRequest request, HttpRequestOptions options,
                                 ChunkCallback on_chunk, DoneCallback on_done) {
  auto t = std::make_unique<CurlTransfer>();
  t->id = impl_->next_id++;
  const TransferId id = t->id;
  t->request = std::move(request);
  t->options = options;
  t->on_chunk = std::move(on_chunk);
  t->on_done = std::move(on_done);
  ++impl_->pending;
  // Nothing of it will leave: reported at the next perform(), never from
  // inside submit().
  (impl_->stopped ? impl_->finished : impl_->waiting).push_back(std::move(t));
  return id;
}

void CurlTransport::cancel(TransferId id, std::string reason) {
  if (impl_->stopped) return;  // stop() ended everything
  impl_->cancels.emplace_back(id, std::move(reason));
}

void CurlTransport::perform() {
  Impl& i = *impl_;
  i.apply_cancels();
  i.start_waiting();
  if (!i.active.empty()) {
    i.sockets.act(i.multi);
    i.reap();
  } else {
    i.sockets.discard_ready();  // no transfer to act for
  }
  i.apply_cancels();  // what the chunk callbacks cancelled
  i.start_waiting();  // what the callbacks submitted
  i.report_finished();
}

void CurlTransport::wait(int timeout_ms) { impl_->sockets.wait(ready() ? 0 : timeout_ms); }

void CurlTransport::wakeup() { impl_->sockets.wakeup(); }

bool CurlTransport::ready() const {
  return !impl_->finished.empty() || !impl_->cancels.empty() || impl_->can_start() ||
         impl_->sockets.ready();
}

bool CurlTransport::idle() const {
  return impl_->active.empty() && impl_->waiting.empty() && impl_->finished.empty();
}

void CurlTransport::stop() {
  impl_->stopped = true;
  impl_->abort_all();
}

size_t CurlTransport::pending() const { return impl_->pending.load(); }

}  // namespace tollgate::workers
