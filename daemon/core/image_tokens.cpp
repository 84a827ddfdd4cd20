#include "daemon/core/image_tokens.h"

#include <algorithm>
#include <cmath>

namespace tollgate::ledger {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

// One side scaled by s <= 1, rounded up (a hair of floating-point noise
// above a whole number is not a pixel more) and never below 1 px.
uint64_t scaled(uint64_t side, double s) {
  if (s >= 1.0) return side;
  const double v = std::ceil(static_cast<double>(side) * s - 1e-6);
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::max(v, 1.0)));
}

// The most scale factor that keeps `side` within `limit` (1: no scaling).
double fit(uint64_t side, uint64_t limit) {
  return side > limit ? static_cast<double>(limit) / static_cast<double>(side) : 1.0;
}

}  // namespace

uint64_t anthropic_image_tokens(ImageDimensions size, AnthropicImageLimits limits) {
  const uint64_t w = size.width;
  const uint64_t h = size.height;
  double s = fit(std::max(w, h), limits.max_long_edge);
  const double pixels = static_cast<double>(w) * static_cast<double>(h);
  if (pixels > static_cast<double>(limits.max_pixels)) {
    s = std::min(s, std::sqrt(static_cast<double>(limits.max_pixels) / pixels));
  }
  // The provider's own resize stays within both limits; rounding each side
  // up here may step past the pixel limit by a row, never the provider.
  const uint64_t scaled_pixels = std::min(scaled(w, s) * scaled(h, s), limits.max_pixels);
  return ceil_div(scaled_pixels, kAnthropicPixelsPerToken);
}

uint64_t openai_tile_tokens(ImageDimensions size, OpenAiTileRates rates) {
  uint64_t w = size.width;
  uint64_t h = size.height;
  const double s1 = fit(std::max(w, h), kOpenAiMaxSide);
  w = std::min<uint64_t>(scaled(w, s1), kOpenAiMaxSide);
  h = std::min<uint64_t>(scaled(h, s1), kOpenAiMaxSide);
  const double s2 = fit(std::min(w, h), kOpenAiMaxShortSide);
  const uint64_t long_side = std::min<uint64_t>(scaled(std::max(w, h), s2), kOpenAiMaxSide);
  const uint64_t short_side = std::min<uint64_t>(scaled(std::min(w, h), s2), kOpenAiMaxShortSide);
  const uint64_t tiles =
      ceil_div(long_side, kOpenAiTileSide) * ceil_div(short_side, kOpenAiTileSide);
  return rates.base + rates.per_tile * tiles;
}

uint64_t openai_patch_tokens(ImageDimensions size, uint64_t multiplier_permille) {
  // The provider scales an image over the patch budget down to fit it, so
  // the count is at most the budget whatever the scaling rounds to.
  const uint64_t patches = std::min(
      ceil_div(size.width, kOpenAiPatchSide) * ceil_div(size.height, kOpenAiPatchSide),
      kOpenAiMaxPatches);
  return ceil_div(patches * multiplier_permille, 1000);
}

uint64_t max_anthropic_image_tokens(AnthropicImageLimits limits) {
  return ceil_div(limits.max_pixels, kAnthropicPixelsPerToken);
}

uint64_t max_openai_tile_tokens(OpenAiTileRates rates) {
  const uint64_t tiles = ceil_div(kOpenAiMaxSide, kOpenAiTileSide) *
                         ceil_div(kOpenAiMaxShortSide, kOpenAiTileSide);
  return rates.base + rates.per_tile * tiles;
}

uint64_t max_openai_patch_tokens(uint64_t multiplier_permille) {
  return ceil_div(kOpenAiMaxPatches * multiplier_permille, 1000);
}

ImageTokens image_tokens(std::optional<ImageDimensions> size, bool gpt4o_mini) {
  ImageTokens out;
  const OpenAiTileRates tiles = gpt4o_mini ? kGpt4oMiniTileRates : kGpt4oTileRates;
  if (!size || size->width == 0 || size->height == 0) {
    out.estimate = std::max(max_anthropic_image_tokens(kClaudeImageLimits),
                            max_openai_tile_tokens(kGpt4oTileRates));
    out.bound = std::max({max_anthropic_image_tokens(kClaudeHighResImageLimits),
                          max_openai_tile_tokens(tiles),
                          max_openai_patch_tokens(kOpenAiMaxPatchMultiplierPermille)});
  } else {
    out.estimate = std::max(anthropic_image_tokens(*size, kClaudeImageLimits),
                            openai_tile_tokens(*size, kGpt4oTileRates));
    out.bound = std::max({out.estimate, anthropic_image_tokens(*size, kClaudeHighResImageLimits),
                          openai_tile_tokens(*size, tiles),
                          openai_patch_tokens(*size, kOpenAiMaxPatchMultiplierPermille)});
  }
  out.bound += kPerImageOverhead;
  return out;
}

bool bills_gpt4o_mini_image_rates(std::string_view model) {
  return model.find("4o-mini") != std::string_view::npos;
}

}  // namespace tollgate::ledger
