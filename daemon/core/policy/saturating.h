// Unsigned arithmetic that stops at the maximum instead of wrapping: token
// bounds and budget sums built from client-sized inputs must never wrap
// round to a small number that would pass a limit check.
#pragma once

#include <cstdint>
#include <limits>

namespace tollgate {

constexpr uint64_t saturating_add(uint64_t a, uint64_t b) {
  const uint64_t sum = a + b;
  return sum < a ? std::numeric_limits<uint64_t>::max() : sum;
}

constexpr uint64_t saturating_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
    return std::numeric_limits<uint64_t>::max();
  }
  return a * b;
}

}  // namespace tollgate
