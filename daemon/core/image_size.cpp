#include "daemon/core/image_size.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace tollgate::ledger {
namespace {

// Bytes of an encoded image, read at any offset. at() is nullopt past the
// end, so a parser can never read out of bounds.
class RawBytes {
 public:
  explicit RawBytes(std::string_view bytes) : bytes_(bytes) {}
  std::optional<uint8_t> at(size_t pos) const {
    if (pos >= bytes_.size()) return std::nullopt;
    return static_cast<uint8_t>(bytes_[pos]);
  }

 private:
  std::string_view bytes_;
};

constexpr uint8_t kNotBase64 = 0xff;

constexpr std::array<uint8_t, 256> base64_table() {
  std::array<uint8_t, 256> table{};
  table.fill(kNotBase64);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}
constexpr std::array<uint8_t, 256> kBase64 = base64_table();

// The decoded bytes of base64 text, decoding one group of four characters
// per byte asked for: a header parser reads a few hundred bytes of a
// megabyte image. valid() is false for text that is not clean base64.
class Base64Bytes {
 public:
  explicit Base64Bytes(std::string_view text) {
    size_t padding = 0;
    while (padding < 2 && !text.empty() && text.back() == '=') {
      text.remove_suffix(1);
      ++padding;
    }
    if (text.size() % 4 == 1) return;
    if (padding > 0 && (text.size() + padding) % 4 != 0) return;
    // One pass without branches (a megabyte image is megabytes of text):
    // alphabet values are below 64, kNotBase64 has the top bit.
    uint8_t seen = 0;
    for (char c : text) seen |= kBase64[static_cast<uint8_t>(c)];
    if (seen & 0x80) return;
    text_ = text;
    size_ = text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1);
    valid_ = true;
  }
  bool valid() const { return valid_; }
  std::optional<uint8_t> at(size_t pos) const {
    if (pos >= size_) return std::nullopt;
    const size_t group = pos / 3 * 4;
    auto sextet = [&](size_t i) -> uint32_t {
      return group + i < text_.size() ? kBase64[static_cast<uint8_t>(text_[group + i])] : 0;
    };
    const uint32_t bits = sextet(0) << 18 | sextet(1) << 12 | sextet(2) << 6 | sextet(3);
    return static_cast<uint8_t>(bits >> (8 * (2 - pos % 3)));
  }

 private:
  std::string_view text_{};
  size_t size_ = 0;
  bool valid_ = false;
};

// An unsigned integer of `n` bytes at `pos`, big- or little-endian.
template <class Bytes>
std::optional<uint32_t> read_uint(const Bytes& b, size_t pos, size_t n, bool big_endian) {
  uint32_t value = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto byte = b.at(pos + i);
    if (!byte) return std::nullopt;
    const size_t shift = big_endian ? 8 * (n - 1 - i) : 8 * i;
    value |= static_cast<uint32_t>(*byte) << shift;
  }
  return value;
}
template <class Bytes>
std::optional<uint32_t> be(const Bytes& b, size_t pos, size_t n) {
  return read_uint(b, pos, n, true);
}
template <class Bytes>
std::optional<uint32_t> le(const Bytes& b, size_t pos, size_t n) {
  return read_uint(b, pos, n, false);
}

template <class Bytes>
bool matches(const Bytes& b, size_t pos, std::string_view expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    if (b.at(pos + i) != static_cast<uint8_t>(expected[i])) return false;
  }
  return true;
}

std::optional<ImageDimensions> dimensions(std::optional<uint32_t> w, std::optional<uint32_t> h) {
  if (!w || !h || *w == 0 || *h == 0) return std::nullopt;
  return ImageDimensions{*w, *h};
}

// Walks over junk bytes and segments cost one step each; past this many
// the image is treated as unreadable (the caller assumes the largest).
constexpr size_t kMaxSteps = size_t{1} << 20;

template <class Bytes>
std::optional<ImageDimensions> png(const Bytes& b) {
  if (!matches(b, 12, "IHDR")) return std::nullopt;
  return dimensions(be(b, 16, 4), be(b, 20, 4));
}

bool is_jpeg_sof(uint8_t marker) {
  // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

// Every SOF before the scan counts, each dimension at its largest: a
// decoder that keeps the last one is never given more than the bound.
// Junk between segments is skipped as decoders skip it.
template <class Bytes>
std::optional<ImageDimensions> jpeg(const Bytes& b) {
  uint32_t width = 0;
  uint32_t height = 0;
  size_t pos = 2;
  for (size_t steps = 0;; ++steps) {
    if (steps == kMaxSteps) return std::nullopt;  // a later SOF may be larger
    const auto byte = b.at(pos);
    if (!byte) break;
    if (*byte != 0xff) {
      ++pos;
      continue;
    }
    while (b.at(pos) == uint8_t{0xff}) ++pos;
    const auto marker = b.at(pos++);
    if (!marker || *marker == 0xda || *marker == 0xd9) break;  // end, scan, EOI
    if (*marker == 0x00 || *marker == 0x01 || (*marker >= 0xd0 && *marker <= 0xd8)) continue;
    const auto length = be(b, pos, 2);
    if (!length || *length < 2) break;
    if (is_jpeg_sof(*marker)) {
      const auto h = be(b, pos + 3, 2);
      const auto w = be(b, pos + 5, 2);
      if (!h || !w || *h == 0 || *w == 0) return std::nullopt;  // cut short, or height in DNL
      height = std::max(height, *h);
      width = std::max(width, *w);
    }
    pos += *length;
  }
  return dimensions(width, height);
}

// Skips a chain of GIF data sub-blocks starting at pos; returns the
// position after the terminator, or nullopt when the data ends first.
template <class Bytes>
std::optional<size_t> skip_gif_sub_blocks(const Bytes& b, size_t pos, size_t& steps) {
  for (; steps < kMaxSteps; ++steps) {
    const auto n = b.at(pos);
    if (!n) return std::nullopt;
    pos += 1 + *n;
    if (*n == 0) return pos;
  }
  return std::nullopt;
}

size_t gif_color_table_bytes(uint8_t flags) {
  return (flags & 0x80) ? 3 * (size_t{2} << (flags & 0x07)) : 0;
}

// The logical screen, widened by every frame that reaches past it (as
// Pillow does). A GIF cut short keeps what was read.
template <class Bytes>
std::optional<ImageDimensions> gif(const Bytes& b) {
  auto width = le(b, 6, 2);
  auto height = le(b, 8, 2);
  const auto screen_flags = b.at(10);
  if (!width || !height || !screen_flags) return std::nullopt;
  size_t pos = 13 + gif_color_table_bytes(*screen_flags);
  size_t steps = 0;
  while (steps++ < kMaxSteps) {
    const auto tag = b.at(pos);
    if (!tag || *tag == 0x3b) return dimensions(width, height);  // end or trailer
    if (*tag == 0x21) {                                           // extension
      const auto next = skip_gif_sub_blocks(b, pos + 2, steps);
      if (!next) return dimensions(width, height);
      pos = *next;
    } else if (*tag == 0x2c) {  // image descriptor
      const auto left = le(b, pos + 1, 2), top = le(b, pos + 3, 2);
      const auto w = le(b, pos + 5, 2), h = le(b, pos + 7, 2);
      const auto flags = b.at(pos + 9);
      if (!left || !top || !w || !h || !flags) return dimensions(width, height);
      width = std::max(*width, *left + *w);
      height = std::max(*height, *top + *h);
      // Local color table, then the LZW minimum code size, then the data.
      const auto next = skip_gif_sub_blocks(b, pos + 10 + gif_color_table_bytes(*flags) + 1, steps);
      if (!next) return dimensions(width, height);
      pos = *next;
    } else {
      ++pos;  // junk: decoders skip it
    }
  }
  return std::nullopt;
}

template <class Bytes>
std::optional<ImageDimensions> webp(const Bytes& b) {
  if (matches(b, 12, "VP8 ")) {
    // Frame tag (3 bytes), start code, then 14-bit sizes (2 scale bits).
    if (!matches(b, 23, "\x9d\x01\x2a")) return std::nullopt;
    const auto w = le(b, 26, 2), h = le(b, 28, 2);
    if (!w || !h) return std::nullopt;
    return dimensions(*w & 0x3fff, *h & 0x3fff);
  }
  if (matches(b, 12, "VP8L")) {
    if (b.at(20) != uint8_t{0x2f}) return std::nullopt;
    const auto bits = le(b, 21, 4);
    if (!bits) return std::nullopt;
    return dimensions((*bits & 0x3fff) + 1, ((*bits >> 14) & 0x3fff) + 1);
  }
  if (matches(b, 12, "VP8X")) {
    const auto w = le(b, 24, 3), h = le(b, 27, 3);
    if (!w || !h) return std::nullopt;
    return dimensions(*w + 1, *h + 1);
  }
  return std::nullopt;
}

template <class Bytes>
std::optional<ImageDimensions> sniff(const Bytes& b) {
  if (matches(b, 0, "\x89PNG\r\n\x1a\n")) return png(b);
  if (matches(b, 0, "\xff\xd8")) return jpeg(b);
  if (matches(b, 0, "GIF87a") || matches(b, 0, "GIF89a")) return gif(b);
  if (matches(b, 0, "RIFF") && matches(b, 8, "WEBP")) return webp(b);
  return std::nullopt;
}

}  // namespace

std::optional<ImageDimensions> image_dimensions(std::string_view bytes) {
  return sniff(RawBytes(bytes));
}

std::optional<ImageDimensions> image_dimensions_base64(std::string_view base64) {
  const Base64Bytes bytes(base64);
  if (!bytes.valid()) return std::nullopt;
  return sniff(bytes);
}

}  // namespace tollgate::ledger
