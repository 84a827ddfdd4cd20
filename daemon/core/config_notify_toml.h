// The TOML file's `notify` table ([[notify.webhook]], [[notify.email]]) for
// daemon/core/config_toml.cpp: keys and types checked, each value's
// FILE:LINE kept for the checks of config_notify.h. Not for use outside the
// configuration loader.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "daemon/core/config_notify.h"
#include "protocol/error.h"

namespace tollgate::config_detail {

protocol::Result<void> read_toml_notify(const std::string& path, const toml::node& node,
                                        std::vector<NotifyAt>& out);

}  // namespace tollgate::config_detail
