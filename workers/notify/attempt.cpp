#include "workers/notify/attempt.h"

#include <algorithm>
#include <cstring>

#include "workers/notify/render.h"
#include "workers/notify/signature.h"

namespace tollgate::notify {
namespace {

constexpr size_t kAnswerKept = 200;  // bytes of a receiver's answer kept for the log

long as_long(uint64_t v) {
  return static_cast<long>(std::min<uint64_t>(v, 3'600'000));
}

}  // namespace

std::unique_ptr<Attempt> Attempt::start(const NotifyDestination& destination,
                                        const OutboxItem& item) {
  std::unique_ptr<Attempt> a(new Attempt());
  a->easy_ = curl_easy_init();
  if (!a->easy_) return nullptr;
  const bool ok = destination.kind == NotifyDestination::Kind::kEmail
                      ? a->configure_email(destination, item)
                      : a->configure_webhook(destination, item);
  if (!ok) return nullptr;
  return a;
}

Attempt::~Attempt() {
  if (easy_) curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

bool Attempt::configure_webhook(const NotifyDestination& d, const OutboxItem& item) {
  body_ = d.format == "slack" ? render_slack(item) : render_json(item);
  const std::string id = delivery_id(item);
  bool ok = true;
  auto header = [&](const std::string& h) {
    curl_slist* next = curl_slist_append(headers_, h.c_str());
    ok = ok && next != nullptr;
    if (next) headers_ = next;
  };
  header("Content-Type: application/json");
  header("X-Tollgate-Delivery: " + id);
  if (!d.secret.empty()) header("X-Tollgate-Signature: " + signature_header_value(d.secret, body_));
  header("Expect:");  // no 100-continue round trip
  auto set = [&](CURLoption opt, auto value) {
    ok = ok && curl_easy_setopt(easy_, opt, value) == CURLE_OK;
  };
  set(CURLOPT_URL, d.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, as_long(d.timeout_ms));
  set(CURLOPT_TIMEOUT_MS, as_long(d.timeout_ms));
  set(CURLOPT_USERAGENT, "tollgate/" TOLLGATE_VERSION);
  set(CURLOPT_ERRORBUFFER, error_);
  set(CURLOPT_HTTPHEADER, headers_);
  set(CURLOPT_POST, 1L);
  set(CURLOPT_POSTFIELDS, body_.data());
  set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
  set(CURLOPT_WRITEFUNCTION, &Attempt::on_answer);
  set(CURLOPT_WRITEDATA, static_cast<void*>(this));
  return ok;
}

bool Attempt::configure_email(const NotifyDestination& d, const OutboxItem& item) {
  email_ = true;
  body_ = render_email(item, d);
  bool ok = true;
  for (const auto& to : d.to) {
    curl_slist* next = curl_slist_append(headers_, ("<" + to + ">").c_str());
    ok = ok && next != nullptr;
    if (next) headers_ = next;
  }
  const std::string from = "<" + d.from + ">";
  const long tls = d.starttls == "require" ? static_cast<long>(CURLUSESSL_ALL)
                   : d.starttls == "none"  ? static_cast<long>(CURLUSESSL_NONE)
                                           : static_cast<long>(CURLUSESSL_TRY);
  auto set = [&](CURLoption opt, auto value) {
    ok = ok && curl_easy_setopt(easy_, opt, value) == CURLE_OK;
  };
  set(CURLOPT_URL, d.smtp_url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, as_long(d.timeout_ms));
  set(CURLOPT_TIMEOUT_MS, as_long(d.timeout_ms));
  set(CURLOPT_ERRORBUFFER, error_);
  set(CURLOPT_MAIL_FROM, from.c_str());  // copied by libcurl
  set(CURLOPT_MAIL_RCPT, headers_);
  set(CURLOPT_USE_SSL, tls);
  if (!d.username.empty()) {
    set(CURLOPT_USERNAME, d.username.c_str());
    set(CURLOPT_PASSWORD, d.password.c_str());
  }
  set(CURLOPT_UPLOAD, 1L);
  set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_.size()));
  set(CURLOPT_READFUNCTION, &Attempt::on_read);
  set(CURLOPT_READDATA, static_cast<void*>(this));
  return ok;
}

size_t Attempt::on_answer(char* data, size_t size, size_t n, void* self) {
  auto* a = static_cast<Attempt*>(self);
  const size_t bytes = size * n;
  if (a->answer_.size() < kAnswerKept)
    a->answer_.append(data, std::min(bytes, kAnswerKept - a->answer_.size()));
  return bytes;
}

size_t Attempt::on_read(char* out, size_t size, size_t n, void* self) {
  auto* a = static_cast<Attempt*>(self);
  const size_t bytes = std::min(size * n, a->body_.size() - a->sent_);
  std::memcpy(out, a->body_.data() + a->sent_, bytes);
  a->sent_ += bytes;
  return bytes;
}

AttemptResult Attempt::finish(CURLcode code) const {
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  const std::string error = error_[0] ? std::string(error_) : std::string(curl_easy_strerror(code));
  if (email_) {
    const Outcome o = smtp_outcome(code == CURLE_OK, status,
                                   code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED);
    if (o == Outcome::kDelivered) return {o, "SMTP " + std::to_string(status)};
    return {o, error + (status ? " (SMTP " + std::to_string(status) + ")" : "")};
  }
  if (code != CURLE_OK) return {http_outcome(false, 0), error};
  std::string answer = answer_;
  std::replace_if(
      answer.begin(), answer.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return {http_outcome(true, status),
          "HTTP " + std::to_string(status) + (answer.empty() ? "" : ": " + answer)};
}

}  // namespace tollgate::notify
