// Images in a prompt, as the fake provider reads and counts them: base64
// decoding, the format and pixel size read from the file header (PNG,
// JPEG, GIF, WebP), and the token formulas the providers publish.
//
// Anthropic: tokens = width * height / 750 (rounded up) after scaling the
// image down, keeping its aspect, so its long edge is at most 1568 px.
// OpenAI, detail high or auto: scale to fit in 2048 x 2048, then so the
// short side is at most 768 px; 85 + 170 per 512 px tile. Detail low: 85.
// A URL image cannot be read by the fake: it counts a fixed number, about
// the most one image costs on each service.
//
// Pure functions; callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::fake_provider {

inline constexpr uint64_t kAnthropicUrlImageTokens = 1600;
inline constexpr uint64_t kOpenAiUrlImageTokens = 1445;   // 85 + 170 * 8 tiles
inline constexpr uint64_t kOpenAiLowDetailTokens = 85;
inline constexpr uint32_t kMaxImageEdge = 8000;           // Anthropic's limit, in px

struct ImageInfo {
  std::string media_type;  // image/png, image/jpeg, image/gif or image/webp
  uint32_t width = 0;
  uint32_t height = 0;
};

// The bytes of standard base64 text (padding optional); nullopt when the
// text has any other character or a bad length.
std::optional<std::string> decode_base64(std::string_view text);

// Format and size from the header of the image bytes; nullopt when the
// bytes are none of the four formats or too short to hold the size.
std::optional<ImageInfo> read_image_info(std::string_view bytes);

uint64_t anthropic_image_tokens(uint32_t width, uint32_t height);
uint64_t openai_image_tokens(uint32_t width, uint32_t height);

}  // namespace tollgate::fake_provider
