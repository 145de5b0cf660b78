// Readers for the value kinds several tables share (rates, sizes, times,
// DSCP code points and sets), from a toml++ node to the policy's integers,
// reporting mistakes at the node. Each returns nothing after an error.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/policy/diagnostic.hpp"
#include "control/policy/units.hpp"

namespace sluice::policy {

std::optional<uint64_t> read_rate(const toml::node& node, std::string_view key, DiagnosticSink& sink);
std::optional<RateOrShare> read_rate_or_share(const toml::node& node, std::string_view key, DiagnosticSink& sink);
// An integer is bytes; a string carries a unit.
std::optional<uint64_t> read_size(const toml::node& node, std::string_view key, DiagnosticSink& sink);
std::optional<uint32_t> read_time_us(const toml::node& node, std::string_view key, DiagnosticSink& sink);

// 0..63, or a name: "EF", "AF41", "CS1".
std::optional<uint8_t> read_dscp(const toml::node& node, std::string_view key, DiagnosticSink& sink);
// One code point, a "lo-hi" range of numbers, or an array of either, as a
// mask with bit d set for DSCP d.
std::optional<uint64_t> read_dscp_set(const toml::node& node, std::string_view key, DiagnosticSink& sink);

// "key: ", the prefix of every value message, so the operator sees which key.
std::string key_text(std::string_view key);

}  // namespace sluice::policy
