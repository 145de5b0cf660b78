// [[meter]] tables: srTCM (RFC 2697) and trTCM (RFC 2698) policers.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

// Reads the `meter` array (null when absent) into `meters`; `by_name` maps
// each name to its index for rules to refer to.
void read_meters(const toml::node* node, std::vector<Meter>& meters,
                 std::unordered_map<std::string_view, uint32_t>& by_name, DiagnosticSink& sink);

}  // namespace sluice::policy
