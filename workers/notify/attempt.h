// Attempt: one delivery of one outbox item to one destination, as a libcurl
// easy handle the Notifier adds to its multi handle. A webhook is an HTTP
// POST (Content-Type application/json, X-Tollgate-Delivery, and
// X-Tollgate-Signature when the destination has a secret); an e-mail is an
// SMTP transaction (MAIL FROM, RCPT TO each recipient, the message from
// render_email; STARTTLS per the destination, login when it has a username).
//
// Every attempt has the destination's timeout_ms as its total timeout (and
// as its connect timeout), so a receiver that hangs holds only its own
// destination, and only that long. URLs and secrets are never logged: a
// Slack webhook's URL is itself a secret.
//
// Threads: owned and driven by the Notifier's thread.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "daemon/core/config.h"
#include "workers/notify/outbox.h"
#include "workers/notify/retry.h"

namespace tollgate::notify {

struct AttemptResult {
  Outcome outcome = Outcome::kRetry;
  std::string detail;  // for the log: "HTTP 500: <start of the answer>", curl's error, ...
};

class Attempt {
 public:
  // Nullptr only when libcurl cannot create a handle or set an option.
  static std::unique_ptr<Attempt> start(const NotifyDestination& destination,
                                        const OutboxItem& item);
  ~Attempt();
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  CURL* easy() const { return easy_; }
  // After the multi handle reports the transfer done with `code`.
  AttemptResult finish(CURLcode code) const;

 private:
  Attempt() = default;
  bool configure_webhook(const NotifyDestination& d, const OutboxItem& item);
  bool configure_email(const NotifyDestination& d, const OutboxItem& item);
  static size_t on_answer(char* data, size_t size, size_t n, void* self);
  static size_t on_read(char* out, size_t size, size_t n, void* self);

  bool email_ = false;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;  // webhook headers or e-mail recipients
  std::string body_;               // the request body or the message; outlives the transfer
  size_t sent_ = 0;                // bytes of body_ read by libcurl (e-mail)
  std::string answer_;             // the start of the receiver's answer, for the log
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace tollgate::notify
