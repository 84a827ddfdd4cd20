// What one image costs in input tokens, by the providers' published
// formulas, and the two numbers the input bound (input_bound.h) takes from
// them. Pure functions; safe from any thread.
//
// The formulas (each rounds up, so none is below the provider's count):
// - Anthropic: (width * height) / 750 after scaling the image down,
//   keeping its aspect ratio, until its long edge and pixel count are
//   within the model's limits: 1568 px and about 1.15 MP (1600 tokens) on
//   Claude 3 and 4 models up to 4.6; 2576 px and 3.75 MP on the
//   high-resolution models (Opus 4.7 and later).
// - OpenAI, tiles (gpt-4o, gpt-4.1, gpt-5, o-series, detail high or
//   auto): scaled down to fit 2048 x 2048, then down until the shortest
//   side is at most 768 px; base + per_tile for every 512 px tile. 85 +
//   170 on gpt-4o; gpt-4o-mini bills 2833 + 5667 (the same dollars at its
//   lower price), the largest rates documented.
// - OpenAI, patches (gpt-4.1-mini and -nano, o4-mini, gpt-5-mini and
//   -nano): one token per 32 px patch, at most 1536, times a model
//   multiplier of at most 2.46.
//
// estimate (the per-request cap's measure) is the most the ordinary
// formulas give: Anthropic at the standard limits, OpenAI tiles at 85 +
// 170. bound (the reservation) is the most any formula above gives, plus
// kPerImageOverhead. An image whose size is unknown (a URL, a header that
// does not read) gets the largest value of each.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "daemon/core/image_size.h"

namespace tollgate::ledger {

// Tokens around each image (content-part markers; OpenAI reports about 8).
inline constexpr uint64_t kPerImageOverhead = 16;

struct AnthropicImageLimits {
  uint32_t max_long_edge = 0;  // px
  uint64_t max_pixels = 0;     // width * height after scaling
};
inline constexpr AnthropicImageLimits kClaudeImageLimits{1568, 1'200'000};
inline constexpr AnthropicImageLimits kClaudeHighResImageLimits{2576, 3'750'000};
inline constexpr uint64_t kAnthropicPixelsPerToken = 750;

struct OpenAiTileRates {
  uint64_t base = 0;
  uint64_t per_tile = 0;
};
inline constexpr OpenAiTileRates kGpt4oTileRates{85, 170};
inline constexpr OpenAiTileRates kGpt4oMiniTileRates{2833, 5667};
inline constexpr uint32_t kOpenAiMaxSide = 2048;
inline constexpr uint32_t kOpenAiMaxShortSide = 768;
inline constexpr uint32_t kOpenAiTileSide = 512;

inline constexpr uint32_t kOpenAiPatchSide = 32;
inline constexpr uint64_t kOpenAiMaxPatches = 1536;
inline constexpr uint64_t kOpenAiMaxPatchMultiplierPermille = 2460;  // gpt-4.1-nano, gpt-5-nano

uint64_t anthropic_image_tokens(ImageDimensions size, AnthropicImageLimits limits);
uint64_t openai_tile_tokens(ImageDimensions size, OpenAiTileRates rates);
// multiplier in thousandths (1620 for 1.62).
uint64_t openai_patch_tokens(ImageDimensions size, uint64_t multiplier_permille);

// The largest value each formula can give, whatever the image.
uint64_t max_anthropic_image_tokens(AnthropicImageLimits limits);
uint64_t max_openai_tile_tokens(OpenAiTileRates rates);
uint64_t max_openai_patch_tokens(uint64_t multiplier_permille);

struct ImageTokens {
  uint64_t estimate = 0;
  uint64_t bound = 0;
};
// nullopt: the size is unknown. gpt4o_mini: the call may go to a
// gpt-4o-mini model, whose tile rates (2833 + 5667) are far above every
// other formula; without it the bound takes gpt-4o's 85 + 170.
ImageTokens image_tokens(std::optional<ImageDimensions> size, bool gpt4o_mini = true);

// Does a model name bill images at gpt-4o-mini's tile rates?
bool bills_gpt4o_mini_image_rates(std::string_view model);

}  // namespace tollgate::ledger
