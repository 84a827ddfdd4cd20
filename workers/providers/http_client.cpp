// DESIGN: one thread, one CURLM. submit() moves a CurlTransfer into queue_ under
// mu_ and calls curl_multi_wakeup. The loop (run) repeatedly: takes the
// queue, adds an easy handle per transfer, curl_multi_perform, reaps finished
// transfers (curl_multi_info_read) and invokes their callbacks, then blocks in
// curl_multi_poll until socket activity, a curl timer, or a wakeup. Easy
// handles are created per transfer; connections live in the multi handle's
// cache, so keep-alive reuse does not depend on reusing easy handles.
#include "workers/providers/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace tollgate::workers {
namespace {

constexpr int kPollTimeoutMs = 1000;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

struct CurlTransfer {
  HttpRequest request;
  HttpRequestOptions options;
  HttpCallback callback;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  bool over_size = false;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();

  ~CurlTransfer() {
    if (easy) curl_easy_cleanup(easy);
    if (header_list) curl_slist_free_all(header_list);
  }
};

namespace {

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<CurlTransfer*>(user);
  size_t n = size * count;
  if (t->response.body.size() + n > t->options.max_response_bytes) {
    t->over_size = true;
    return 0;  // any short count aborts the transfer
  }
  t->response.body.append(data, n);
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

void invoke(CurlTransfer& t) {
  try {
    t.callback(std::move(t.response));
  } catch (const std::exception& e) {
    spdlog::error("http client: completion callback threw: {}", e.what());
  }
}

void fail(CurlTransfer& t, std::string error) {
  t.response.error = std::move(error);
  invoke(t);
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(HttpClientOptions o) : options(std::move(o)) {
    global_init_once();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, options.max_connections);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
    thread = std::jthread([this] { run(); });
  }

  ~Impl() {
    stop();
    curl_multi_cleanup(multi);
  }

  void stop() {
    std::lock_guard stop_lock(stop_mu);  // concurrent stop() calls join once
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    curl_multi_wakeup(multi);
    if (thread.joinable()) thread.join();
  }

  void run();
  void start(std::unique_ptr<CurlTransfer> t);
  bool configure(CurlTransfer& t);
  void reap();
  void abort_all();
  // Counts the transfer done, then runs its callback.
  void complete(CurlTransfer& t) {
    {
      std::lock_guard lock(mu);
      --pending;
    }
    invoke(t);
  }

  // Constant after construction.
  const HttpClientOptions options;
  CURLM* multi = nullptr;

  std::mutex stop_mu;  // serialises stop()

  // Guarded by mu.
  mutable std::mutex mu;
  std::deque<std::unique_ptr<CurlTransfer>> queue;
  bool stopping = false;
  size_t pending = 0;  // submitted, callback not yet run

  // Client thread only. Transfers beyond max_active_transfers wait here
  // without an easy handle (libcurl allocates its buffers per handle).
  std::unordered_map<CURL*, std::unique_ptr<CurlTransfer>> active;
  std::deque<std::unique_ptr<CurlTransfer>> waiting;
  void start_waiting();

  std::jthread thread;  // last: started after everything above exists
};

bool HttpClient::Impl::configure(CurlTransfer& t) {
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

void HttpClient::Impl::start(std::unique_ptr<CurlTransfer> t) {
  t->easy = curl_easy_init();
  if (!t->easy || !configure(*t)) {
    t->response.error = "cannot set up the transfer for " + t->request.url;
    complete(*t);
    return;
  }
  if (CURLMcode mc = curl_multi_add_handle(multi, t->easy); mc != CURLM_OK) {
    t->response.error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc);
    complete(*t);
    return;
  }
  CURL* key = t->easy;
  active.emplace(key, std::move(t));
}

void HttpClient::Impl::reap() {
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
    complete(*t);
  }
}

void HttpClient::Impl::abort_all() {
  std::deque<std::unique_ptr<CurlTransfer>> queued;
  {
    std::lock_guard lock(mu);
    queued.swap(queue);
  }
  for (auto& [easy, t] : active) {
    long request_bytes = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    curl_multi_remove_handle(multi, easy);
    t->response.error = "shutting down";
    t->response.request_sent = request_bytes > 0;
    complete(*t);
  }
  active.clear();
  // Transfers that never got an easy handle never left this process.
  for (auto& t : queued) {
    t->response.error = "shutting down";
    t->response.request_sent = false;
    complete(*t);
  }
  for (auto& t : waiting) {
    t->response.error = "shutting down";
    t->response.request_sent = false;
    complete(*t);
  }
  waiting.clear();
}

void HttpClient::Impl::start_waiting() {
  while (!waiting.empty() && active.size() < options.max_active_transfers) {
    std::unique_ptr<CurlTransfer> t = std::move(waiting.front());
    waiting.pop_front();
    // The total timeout counts from submit(): time spent waiting here too.
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t->submitted).count();
    int64_t left = t->options.total_timeout_ms - waited;
    if (left <= 0) {
      // Never sent: reported like a refused connection, not a timeout, so
      // the caller knows the provider cannot have served it.
      t->response.error = "no connection became free within the total timeout";
      t->response.curl_code = CURLE_COULDNT_CONNECT;
      t->response.request_sent = false;
      complete(*t);
      continue;
    }
    t->options.total_timeout_ms = left;
    t->options.connect_timeout_ms = std::min(t->options.connect_timeout_ms, left);
    start(std::move(t));
  }
}

void HttpClient::Impl::run() {
  while (true) {
    std::deque<std::unique_ptr<CurlTransfer>> incoming;
    {
      std::lock_guard lock(mu);
      if (stopping) break;
      incoming.swap(queue);
    }
    for (auto& t : incoming) waiting.push_back(std::move(t));
    start_waiting();
    int running = 0;
    curl_multi_perform(multi, &running);
    reap();
    start_waiting();
    curl_multi_poll(multi, nullptr, 0, kPollTimeoutMs, nullptr);
  }
  abort_all();
}

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

void HttpClient::submit(HttpRequest request, HttpRequestOptions options, HttpCallback callback) {
  auto t = std::make_unique<CurlTransfer>();
  t->request = std::move(request);
  t->options = options;
  t->callback = std::move(callback);
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping) {
      impl_->queue.push_back(std::move(t));
      ++impl_->pending;
    }
  }
  if (t) {  // not queued: the client is stopping; nothing of it left
    t->response.request_sent = false;
    fail(*t, "shutting down");
    return;
  }
  curl_multi_wakeup(impl_->multi);
}

void HttpClient::stop() { impl_->stop(); }

size_t HttpClient::pending() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pending;
}

}  // namespace tollgate::workers
