// Dashboard: the monitoring page served at GET / by the HTTP listener. Its
// files (daemon/server/dashboard/: index.html, app.js, style.css) are embedded into
// the binary at build time by cmake/EmbedFiles.cmake, so the daemon serves
// them without reading the disk and a package ships nothing extra.
//
// Threads: any thread may call find_asset; the assets are immutable static
// data, and the returned pointer and views stay valid for the whole program.
#pragma once

#include <cstddef>
#include <string_view>

namespace tollgate::dashboard {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // e.g. "text/html; charset=utf-8"
  std::string_view body;
};

// The asset for a request path (no query string): "/" and "/index.html"
// give the page; an unknown path gives nullptr (answer 404).
const Asset* find_asset(std::string_view path);

// Every embedded asset, for listing or tests.
std::size_t asset_count();
const Asset& asset_at(std::size_t index);

namespace detail {
// Written by the generated dashboard_assets.cpp.
struct EmbeddedFile {
  const char* path;
  const unsigned char* bytes;
  std::size_t size;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;
}  // namespace detail

}  // namespace tollgate::dashboard
