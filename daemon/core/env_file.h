// The .env file of --env-file: KEY=VALUE lines, parsed as docs/configuration.md
// ("The .env file") describes. Pure; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "protocol/error.h"

namespace tollgate {

// One setting from the file, with the line it came from so that a bad value
// can be reported as FILE:LINE.
struct EnvEntry {
  std::string name;
  std::string value;
  int line = 0;
};

// Parses .env syntax: KEY=VALUE lines; blank lines and lines starting with
// '#' are skipped, as is a UTF-8 byte-order mark; an optional 'export '
// prefix; a value in single quotes is taken as is, one in double quotes
// understands \n \t \r \\ \" \$; after a closing quote only a comment may
// follow, and an unquoted value ends where whitespace and '#' start a
// comment. Errors name `path` and the line: "PATH:LINE: ...".
protocol::Result<std::vector<EnvEntry>> parse_env_file(const std::string& text,
                                                       const std::string& path);

}  // namespace tollgate
