// Which failed attempts the provider may have served (and billed): those
// are charged in full, the rest released (PROTOCOL.md section 3; a 502 or
// 504 behind a gateway, issue 20 item 9).
#include <catch2/catch.hpp>

#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;

namespace {

ProviderFailure http_failure(long status) {
  return AnthropicAdapter().parse_response(status, {}, "{}", 0).failure;
}

ProviderFailure transport_failure(bool timed_out) {
  HttpResponse r;
  r.error = timed_out ? "Operation timed out" : "Connection reset by peer";
  r.timed_out = timed_out;
  return AnthropicAdapter().interpret_response(r, 0).failure;
}

}  // namespace

TEST_CASE("a 502 or 504 is served when the provider sits behind a gateway and not at the vendor host") {
  for (long status : {502L, 504L}) {
    INFO(status);
    CHECK(may_have_served(http_failure(status), true, true));
    CHECK_FALSE(may_have_served(http_failure(status), true, false));
  }
}

TEST_CASE("other 5xx and 4xx answers were not served wherever the provider is") {
  for (long status : {500L, 503L, 529L, 429L, 400L, 401L, 404L}) {
    INFO(status);
    CHECK_FALSE(may_have_served(http_failure(status), true, true));
    CHECK_FALSE(may_have_served(http_failure(status), true, false));
  }
}

TEST_CASE("timeouts and cut connections were served only when the request was sent") {
  for (bool timed_out : {true, false}) {
    CHECK(may_have_served(transport_failure(timed_out), true, false));
    CHECK_FALSE(may_have_served(transport_failure(timed_out), false, true));
  }
  // An unreadable 2xx body: the provider answered, so it served the call.
  auto invalid = OpenAiAdapter().parse_response(200, {}, "not json", 0).failure;
  CHECK(invalid.kind == FailureKind::kInvalidResponse);
  CHECK(may_have_served(invalid, true, false));
}
