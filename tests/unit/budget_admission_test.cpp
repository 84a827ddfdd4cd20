// Admission of one reservation into one budget (budget.h fit()):
// PROTOCOL.md section 3, rules 4 and 6.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "daemon/core/budget.h"

using tollgate::ledger::BudgetRoom;
using tollgate::ledger::Fit;
using tollgate::ledger::fit;
using tollgate::ledger::InputSize;
using tollgate::ledger::input_size;

TEST_CASE("a reservation that fits beside the calls in flight is admitted at once") {
  CHECK(fit({0, 0, 5000, std::nullopt}, 5000) == Fit::kFits);
  CHECK(fit({1000, 3000, 5000, std::nullopt}, 1000) == Fit::kFits);
}

TEST_CASE("a reservation held back only by calls in flight waits") {
  // used + amount <= limit < used + reserved + amount
  CHECK(fit({1000, 3000, 5000, std::nullopt}, 1001) == Fit::kWaits);
  CHECK(fit({0, 5000, 5000, std::nullopt}, 5000) == Fit::kWaits);
}

TEST_CASE("a reservation larger than what is left can never fit and does not wait") {
  CHECK(fit({4000, 0, 5000, std::nullopt}, 1001) == Fit::kNever);
  CHECK(fit({4000, 900, 5000, std::nullopt}, 1001) == Fit::kNever);
  CHECK(fit({6000, 0, 5000, std::nullopt}, 1) == Fit::kNever);  // a lowered limit
  CHECK(fit({0, 0, 0, std::nullopt}, 1) == Fit::kNever);        // no budget at all
}

TEST_CASE("a soft threshold reached by used tokens refuses while one reached only with reserved tokens waits") {
  // 95% of 5000 is 4750.
  CHECK(fit({4750, 0, 5000, 0.95}, 100) == Fit::kThreshold);
  CHECK(fit({4700, 0, 5000, 0.95}, 100) == Fit::kFits);
  CHECK(fit({4000, 750, 5000, 0.95}, 100) == Fit::kWaits);
  // Admitted under the threshold, a call may end above it: the threshold is
  // where fallback starts, the limit is what is never crossed.
  CHECK(fit({4700, 0, 5000, 0.95}, 300) == Fit::kFits);
}

TEST_CASE("admission never overflows at the edges of the integer range") {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  CHECK(fit({0, kMax, kMax, std::nullopt}, 1) == Fit::kWaits);
  CHECK(fit({kMax, 0, kMax, std::nullopt}, 1) == Fit::kNever);
  CHECK(fit({1, kMax - 1, kMax, std::nullopt}, kMax - 1) == Fit::kWaits);
}

TEST_CASE("the input size gives the cap its ordinary estimate and the reservation its bound") {
  // 200 CJK characters (3 bytes each) and 20 digits: a real tokenizer gives
  // about one token per character, far above bytes / 4.
  std::string prompt;
  for (int i = 0; i < 200; ++i) prompt += "\xe6\xbc\xa2";
  prompt += "01234567890123456789";
  const InputSize size = input_size("", {prompt});
  CHECK(size.estimate == (600 + 20) / 4);
  CHECK(size.bound >= 220);
  CHECK(size.bound == 620 + tollgate::ledger::kPerMessageOverhead +
                          tollgate::ledger::kPerRequestOverhead);
}
