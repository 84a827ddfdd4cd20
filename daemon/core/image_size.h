// The pixel size of an image, read from its header without decoding it:
// PNG (IHDR), JPEG (the first SOF marker), GIF (the logical screen, widened
// by any frame that reaches past it) and WebP (VP8, VP8L, VP8X). The input
// bound of a call (input_bound.h) prices images by their size, never by
// their bytes.
//
// Robust against any bytes: a truncated, malformed or hostile header gives
// nullopt (the caller then assumes the largest image), never a crash, a
// read out of bounds or unbounded work (every loop advances through the
// input). The format is sniffed from the magic bytes, not taken from the
// client's media_type. Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tollgate::ledger {

struct ImageDimensions {
  uint32_t width = 0;
  uint32_t height = 0;
  bool operator==(const ImageDimensions&) const = default;
};

// From the encoded file's bytes. nullopt: not one of the four formats, a
// header cut short, or a width or height of 0.
std::optional<ImageDimensions> image_dimensions(std::string_view bytes);

// The same from base64 text (standard alphabet, with or without '='
// padding), decoding only the bytes the header parser reads. Text that is
// not clean base64 (line breaks, a data: prefix, stray characters) gives
// nullopt: an offset into it could not be trusted.
std::optional<ImageDimensions> image_dimensions_base64(std::string_view base64);

}  // namespace tollgate::ledger
