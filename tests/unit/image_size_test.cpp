// Image sizes read from hand-made headers of each format, as raw bytes and
// as base64; truncated, malformed and hostile headers give no size and
// never read out of bounds (the sanitizer build runs these too).
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/image_size.h"
#include "tests/unit/image_headers.h"

using tollgate::ledger::image_dimensions;
using tollgate::ledger::image_dimensions_base64;
using tollgate::ledger::ImageDimensions;
namespace t = tollgate::test;

namespace {

std::optional<ImageDimensions> size(uint32_t w, uint32_t h) { return ImageDimensions{w, h}; }

// Every header of every format at one size.
std::vector<std::string> headers_of(uint32_t w, uint32_t h) {
  return {t::png_header(w, h), t::jpeg_header(w, h), t::gif_header(w, h), t::webp_vp8(w, h),
          t::webp_vp8l(w, h),  t::webp_vp8x(w, h)};
}

}  // namespace

TEST_CASE("a png header gives the size of its ihdr chunk") {
  CHECK(image_dimensions(t::png_header(640, 480)) == size(640, 480));
  CHECK(image_dimensions(t::png_header(1, 1)) == size(1, 1));
  CHECK(image_dimensions(t::png_header(0x7fffffff, 3)) == size(0x7fffffff, 3));
}

TEST_CASE("a jpeg header gives the size of its sof marker") {
  CHECK(image_dimensions(t::jpeg_header(1920, 1080)) == size(1920, 1080));
  for (uint8_t sof : {0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce,
                      0xcf}) {
    CHECK(image_dimensions(t::jpeg_header(300, 200, sof)) == size(300, 200));
  }
}

TEST_CASE("a jpeg thumbnail inside an exif segment is not taken for the image") {
  std::string exif = "Exif";
  exif += std::string(2, '\0');
  exif += t::jpeg_header(160, 120);  // the embedded thumbnail, SOF and all
  const std::string main = t::jpeg_header(4000, 3000);
  const std::string file = main.substr(0, 2) + t::jpeg_segment(0xe1, exif) + main.substr(2);
  CHECK(image_dimensions(file) == size(4000, 3000));
}

TEST_CASE("a jpeg with fill bytes and junk between segments still reads") {
  const std::string h = t::jpeg_header(800, 600);
  const std::string file = h.substr(0, 2) + "junk" + std::string("\xff\xff\xff", 3) + h.substr(2);
  CHECK(image_dimensions(file) == size(800, 600));
}

TEST_CASE("a jpeg with two frame headers counts each side at its largest") {
  const std::string h = t::jpeg_header(100, 900);
  const std::string file =
      h.substr(0, 2) + t::jpeg_segment(0xc0, t::jpeg_sof_payload(700, 50)) + h.substr(2);
  CHECK(image_dimensions(file) == size(700, 900));
}

TEST_CASE("a jpeg whose height is left to a dnl marker has no size") {
  CHECK_FALSE(image_dimensions(t::jpeg_header(640, 0)));
}

TEST_CASE("a jpeg that reaches its scan without a frame header has no size") {
  const std::string file = std::string("\xff\xd8", 2) + t::jpeg_segment(0xda, "scan");
  CHECK_FALSE(image_dimensions(file));
}

TEST_CASE("a gif header gives its logical screen size") {
  CHECK(image_dimensions(t::gif_header(320, 240)) == size(320, 240));
}

TEST_CASE("a gif frame reaching past the logical screen widens the size") {
  CHECK(image_dimensions(t::gif_header(100, 100, 50, 20, 400, 90)) == size(450, 110));
}

TEST_CASE("a gif cut short after its screen descriptor keeps the screen size") {
  CHECK(image_dimensions(t::gif_header(64, 48).substr(0, 13)) == size(64, 48));
}

TEST_CASE("webp headers of each kind give their size") {
  CHECK(image_dimensions(t::webp_vp8(1024, 768)) == size(1024, 768));
  CHECK(image_dimensions(t::webp_vp8l(16383, 1)) == size(16383, 1));
  CHECK(image_dimensions(t::webp_vp8x(16777216, 9000)) == size(16777216, 9000));
}

TEST_CASE("base64 text gives the same size as the bytes it encodes") {
  for (uint32_t w : {1u, 333u, 4096u}) {
    for (const auto& header : headers_of(w, w / 3 + 1)) {
      INFO(w);
      CHECK(image_dimensions_base64(t::base64(header)) == image_dimensions(header));
      CHECK(image_dimensions_base64(t::base64(header, false)) == image_dimensions(header));
      CHECK(image_dimensions(header).has_value());
    }
  }
}

TEST_CASE("base64 that is not clean has no size") {
  const std::string good = t::base64(t::png_header(10, 10));
  CHECK_FALSE(image_dimensions_base64(good.substr(0, 8) + "\n" + good.substr(8)));
  CHECK_FALSE(image_dimensions_base64("data:image/png;base64," + good));
  CHECK_FALSE(image_dimensions_base64(good + "A"));      // a length no base64 has
  CHECK_FALSE(image_dimensions_base64(good.substr(0, 5) + "=" + good.substr(6)));
  CHECK_FALSE(image_dimensions_base64(""));
}

TEST_CASE("an unknown format or an empty input has no size") {
  CHECK_FALSE(image_dimensions(""));
  CHECK_FALSE(image_dimensions("BM\x36\x00\x0c\x00"));  // BMP
  CHECK_FALSE(image_dimensions(std::string(1000, '\0')));
}

TEST_CASE("a png or webp header cut before its size has none") {
  // Each header with the length up to the last byte of its size.
  const std::vector<std::pair<std::string, size_t>> headers = {
      {t::png_header(640, 480), 24}, {t::webp_vp8(640, 480), 30},
      {t::webp_vp8l(640, 480), 25}, {t::webp_vp8x(640, 480), 30}};
  for (const auto& [header, needed] : headers) {
    for (size_t n = 0; n < needed; ++n) {
      INFO(n);
      CHECK_FALSE(image_dimensions(header.substr(0, n)));
    }
    CHECK(image_dimensions(header.substr(0, needed)) == size(640, 480));
  }
}

TEST_CASE("a jpeg cut before or inside its frame header has no size") {
  const std::string h = t::jpeg_header(640, 480);
  // Marker, length, precision, height, width.
  const size_t sof_end = h.find(std::string("\xff\xc0", 2)) + 9;
  for (size_t n = 0; n < sof_end; ++n) {
    INFO(n);
    CHECK_FALSE(image_dimensions(h.substr(0, n)));
    CHECK_FALSE(image_dimensions_base64(t::base64(h.substr(0, n))));
  }
  CHECK(image_dimensions(h.substr(0, sof_end)) == size(640, 480));
}

TEST_CASE("a zero width or height is no size") {
  CHECK_FALSE(image_dimensions(t::png_header(0, 10)));
  CHECK_FALSE(image_dimensions(t::png_header(10, 0)));
  CHECK_FALSE(image_dimensions(t::webp_vp8(0, 10)));
  CHECK_FALSE(image_dimensions(t::gif_header(0, 0)));
  // A frame gives an empty screen its size.
  CHECK(image_dimensions(t::gif_header(0, 0, 0, 0, 5, 7)) == size(5, 7));
}

TEST_CASE("a jpeg segment length pointing past the end has no size") {
  std::string file("\xff\xd8\xff\xe0\xff\xff", 6);
  file += std::string(100, 'x');
  CHECK_FALSE(image_dimensions(file));
}

TEST_CASE("a jpeg of nothing but junk gives up without a size") {
  const std::string file = std::string("\xff\xd8", 2) + std::string(3'000'000, '\x01');
  CHECK_FALSE(image_dimensions(file));
}

TEST_CASE("a gif of many empty extensions is walked to its end") {
  std::string file = t::gif_header(10, 10).substr(0, 19);
  for (int i = 0; i < 200'000; ++i) file += std::string("\x21\x01\x00", 3);
  CHECK(image_dimensions(file) == size(10, 10));
}

TEST_CASE("random bytes behind each magic number never crash the parser") {
  std::mt19937_64 rng(1313);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> len(0, 120);
  const std::vector<std::string> magics = {std::string("\x89PNG\r\n\x1a\n", 8),
                                           std::string("\xff\xd8", 2),
                                           "GIF89a",
                                           "GIF87a",
                                           std::string("RIFF\x10\x00\x00\x00WEBPVP8 ", 16),
                                           std::string("RIFF\x10\x00\x00\x00WEBPVP8L", 16),
                                           std::string("RIFF\x10\x00\x00\x00WEBPVP8X", 16)};
  size_t sized = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string file = magics[static_cast<size_t>(round) % magics.size()];
    const size_t n = len(rng);
    for (size_t i = 0; i < n; ++i) file.push_back(static_cast<char>(byte(rng)));
    const auto raw = image_dimensions(file);
    if (raw) {
      ++sized;
      CHECK(raw->width > 0);
      CHECK(raw->height > 0);
    }
    REQUIRE(image_dimensions_base64(t::base64(file)) == raw);
  }
  CHECK(sized > 0);  // some random headers do read: the parsers were reached
}

TEST_CASE("random mutations of real headers never crash the parser") {
  std::mt19937_64 rng(4242);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 5000; ++round) {
    for (std::string file : headers_of(1 + static_cast<uint32_t>(round), 77)) {
      std::uniform_int_distribution<size_t> at(0, file.size() - 1);
      for (int k = 0; k < 3; ++k) file[at(rng)] = static_cast<char>(byte(rng));
      const auto got = image_dimensions(file);
      REQUIRE(image_dimensions_base64(t::base64(file)) == got);
    }
  }
}
