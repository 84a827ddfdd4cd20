#include "daemon/core/policy/recommend.h"

#include <vector>

#include "daemon/core/policy/outcome.h"

namespace tollgate::policy {

Recommendation recommend(const SelectionInput& input) {
  const Plan plan = select_providers(input);
  Recommendation rec;
  std::vector<AttemptRecord> skipped;
  for (const PlanStep& step : plan.steps) {
    if (!step.skip) {
      rec.provider = step.provider;
      rec.available = true;
      rec.reason = std::string(reason_name(step.reason));
      return rec;
    }
    skipped.push_back(skip_record(step));
  }
  protocol::Error error = final_error(input.agent, skipped);
  if (error.code == protocol::ErrorCode::kBudgetExhausted &&
      error.message.find("both_exhausted") != std::string::npos) {
    rec.reason = "both_exhausted";
  } else {
    rec.reason = std::string(protocol::code_name(error.code));
  }
  rec.error = std::move(error);
  return rec;
}

}  // namespace tollgate::policy
