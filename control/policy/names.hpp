// The named values a policy may use instead of numbers, as tables: DSCP code
// points (RFC 2474/2597/3246/5865/8622), IP protocols, ethertypes and link
// overhead presets (CAKE's keywords).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/policy/policy.hpp"

namespace sluice::policy {

// "EF" -> 46, "af41" -> 34, "cs1" -> 8, "le" -> 1. Case-insensitive.
std::optional<uint8_t> dscp_by_name(std::string_view name);
// The canonical name of a code point, or its number when it has none.
std::string dscp_name(uint8_t dscp);

std::optional<uint8_t> protocol_by_name(std::string_view name);
std::string protocol_name(uint8_t protocol);
// Protocols whose headers carry source and destination ports.
bool protocol_has_ports(uint8_t protocol);

std::optional<uint16_t> ethertype_by_name(std::string_view name);

std::optional<Overhead> overhead_preset(std::string_view name);
// Comma-separated names, for messages.
std::string overhead_preset_names();

}  // namespace sluice::policy
