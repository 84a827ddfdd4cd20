#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <set>
#include <string>

#include "daemon/server/dashboard.h"

using tollgate::dashboard::Asset;
using tollgate::dashboard::asset_at;
using tollgate::dashboard::asset_count;
using tollgate::dashboard::find_asset;

TEST_CASE("the root path serves the embedded index page") {
  const Asset* root = find_asset("/");
  REQUIRE(root != nullptr);
  CHECK(root == find_asset("/index.html"));
  CHECK(root->path == "/index.html");
  CHECK(root->content_type == "text/html; charset=utf-8");
  CHECK(root->body.starts_with("<!doctype html>"));
  // The page loads its script and style by the paths find_asset knows.
  CHECK(root->body.find("src=\"app.js\"") != std::string_view::npos);
  CHECK(root->body.find("href=\"style.css\"") != std::string_view::npos);
}

TEST_CASE("script and style assets carry their content types") {
  const Asset* js = find_asset("/app.js");
  REQUIRE(js != nullptr);
  CHECK(js->content_type == "text/javascript; charset=utf-8");
  CHECK(js->body.find("api/token-usage") != std::string_view::npos);
  const Asset* css = find_asset("/style.css");
  REQUIRE(css != nullptr);
  CHECK(css->content_type == "text/css; charset=utf-8");
  CHECK_FALSE(css->body.empty());
}

TEST_CASE("an unknown or malformed path finds no asset") {
  CHECK(find_asset("") == nullptr);
  CHECK(find_asset("/nope.js") == nullptr);
  CHECK(find_asset("app.js") == nullptr);
  CHECK(find_asset("/../app.js") == nullptr);
  CHECK(find_asset("/app.js?x=1") == nullptr);
  CHECK(find_asset("/index.html/") == nullptr);
}

TEST_CASE("the embedded bodies are the source files byte for byte") {
  REQUIRE(asset_count() == 3);
  std::set<std::string> paths;
  for (std::size_t i = 0; i < asset_count(); ++i) {
    const Asset& a = asset_at(i);
    paths.insert(std::string(a.path));
    CHECK(find_asset(a.path) == &a);
    std::ifstream file(std::string(TOLLGATE_DASHBOARD_DIR) + std::string(a.path), std::ios::binary);
    REQUIRE(file);
    std::ostringstream source;
    source << file.rdbuf();
    CHECK(a.body == source.str());
  }
  CHECK(paths == std::set<std::string>{"/index.html", "/app.js", "/style.css"});
}
