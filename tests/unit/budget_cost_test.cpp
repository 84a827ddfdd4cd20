// Cost with prompt-cache tokens (budget.h): each part of the input at its
// own rate, cache rates defaulting to the input rate, and the split of a
// provider's counts where input_tokens includes both cache counts.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>

#include "daemon/core/budget.h"

using tollgate::ledger::cost_usd;
using tollgate::ledger::Price;
using tollgate::ledger::split_usage;
using tollgate::ledger::UsageSplit;

namespace {

UsageSplit split(uint64_t uncached, uint64_t creation, uint64_t read, uint64_t output) {
  UsageSplit s;
  s.uncached_input = uncached;
  s.cache_creation = creation;
  s.cache_read = read;
  s.output = output;
  return s;
}

}  // namespace

TEST_CASE("each part of a reply is priced at its own rate") {
  const Price sonnet{3.0, 15.0, 3.75, 0.30};
  CHECK(cost_usd(sonnet, split(1'000'000, 0, 0, 0)) == Approx(3.0));
  CHECK(cost_usd(sonnet, split(0, 1'000'000, 0, 0)) == Approx(3.75));
  CHECK(cost_usd(sonnet, split(0, 0, 1'000'000, 0)) == Approx(0.30));
  CHECK(cost_usd(sonnet, split(0, 0, 0, 1'000'000)) == Approx(15.0));
  CHECK(cost_usd(sonnet, split(1000, 2000, 10000, 500)) ==
        Approx((1000 * 3.0 + 2000 * 3.75 + 10000 * 0.30 + 500 * 15.0) / 1e6));
}

TEST_CASE("cache rates that are not set are the input rate") {
  const Price plain{2.0, 8.0};
  CHECK(plain.cache_write() == 2.0);
  CHECK(plain.cache_read() == 2.0);
  CHECK(cost_usd(plain, split(100, 200, 300, 50)) == Approx(cost_usd(plain, 600, 50)));
  const Price read_only{2.0, 8.0, std::nullopt, 0.5};
  CHECK(read_only.cache_write() == 2.0);
  CHECK(cost_usd(read_only, split(0, 0, 1'000'000, 0)) == Approx(0.5));
}

TEST_CASE("a usage without cache counts costs what the two-count cost says") {
  const Price sonnet{3.0, 15.0, 3.75, 0.30};
  CHECK(cost_usd(sonnet, split_usage(4000, std::nullopt, std::nullopt, 700)) ==
        Approx(cost_usd(sonnet, 4000, 700)));
}

TEST_CASE("the split takes both cache counts out of the input count") {
  const auto s = split_usage(10000, 2000, 7000, 300);
  CHECK(s.uncached_input == 1000);
  CHECK(s.cache_creation == 2000);
  CHECK(s.cache_read == 7000);
  CHECK(s.output == 300);
}

TEST_CASE("cache counts larger than the input count are cut down to it") {
  const auto over = split_usage(100, 80, 80, 0);
  CHECK(over.cache_creation == 80);
  CHECK(over.cache_read == 20);
  CHECK(over.uncached_input == 0);
  const auto all = split_usage(100, 500, 5, 0);
  CHECK(all.cache_creation == 100);
  CHECK(all.cache_read == 0);
  CHECK(all.uncached_input == 0);
}

TEST_CASE("an OpenAI reply with cached input is priced at the cached rate") {
  const Price gpt41{2.0, 8.0, 2.0, 0.50};
  // prompt_tokens 3000 of which cached_tokens 2048: only reads, no writes.
  const auto s = split_usage(3000, std::nullopt, 2048, 100);
  CHECK(cost_usd(gpt41, s) == Approx((952 * 2.0 + 2048 * 0.5 + 100 * 8.0) / 1e6));
}
