#include "daemon/server/dashboard.h"

#include <vector>

namespace tollgate::dashboard {
namespace {

std::string_view content_type_for(std::string_view path) {
  struct Type {
    std::string_view suffix;
    std::string_view type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".json", "application/json"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
  };
  for (const Type& t : kTypes) {
    if (path.ends_with(t.suffix)) return t.type;
  }
  return "application/octet-stream";
}

// Built once, on first use (thread-safe static initialisation), from the
// generated table; never changed afterwards.
const std::vector<Asset>& assets() {
  static const std::vector<Asset> table = [] {
    std::vector<Asset> out;
    for (std::size_t i = 0; i < detail::kEmbeddedFileCount; ++i) {
      const detail::EmbeddedFile& f = detail::kEmbeddedFiles[i];
      out.push_back(Asset{f.path, content_type_for(f.path),
                          std::string_view(reinterpret_cast<const char*>(f.bytes), f.size)});
    }
    return out;
  }();
  return table;
}

}  // namespace

const Asset* find_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const Asset& a : assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

std::size_t asset_count() { return assets().size(); }

const Asset& asset_at(std::size_t index) { return assets().at(index); }

}  // namespace tollgate::dashboard
