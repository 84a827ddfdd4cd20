// libFuzzer target: arbitrary bytes as an image file. The header parser
// must return (never crash, read out of bounds or hang), read the same size
// from the bytes and from their base64 text, never give a zero side, and
// the image's token bound must stay within the bound of an unknown image.
// The bytes taken as base64 text exercise the base64 reader's validation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/core/image_size.h"
#include "daemon/core/image_tokens.h"
#include "tests/unit/image_headers.h"

namespace ledger = tollgate::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto raw = ledger::image_dimensions(bytes);
  if (raw && (raw->width == 0 || raw->height == 0)) std::abort();
  if (ledger::image_dimensions_base64(tollgate::test::base64(bytes)) != raw) std::abort();
  (void)ledger::image_dimensions_base64(bytes);
  const auto tokens = ledger::image_tokens(raw);
  const auto unknown = ledger::image_tokens(std::nullopt);
  if (tokens.bound < tokens.estimate || tokens.bound > unknown.bound) std::abort();
  return 0;
}
