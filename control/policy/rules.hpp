// [[rule]] tables: ordered classification rules in their normalised form.
//
// Each rule is read, checked for contradictions (an IPv6 prefix on an IPv4
// rule, ports on ICMP) and normalised so that equal matches look equal:
// ranges and prefixes sorted and merged, names turned into numbers, IP
// ethertypes folded into ip_version. Class and meter names are resolved
// against the directions' trees and the meters.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/policy/class_tree.hpp"
#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

struct RuleContext {
    std::array<const ClassIndex*, kDirectionCount> classes{};
    const std::unordered_map<std::string_view, uint32_t>* meters = nullptr;
};

// Reads the `rule` array (null when absent). `positions` gets each rule's
// table position, for warnings that later passes attach to rules.
void read_rules(const toml::node* node, const RuleContext& context, std::vector<Rule>& rules,
                std::vector<Position>& positions, DiagnosticSink& sink);

// Sorts and merges inclusive ranges (adjacent ones too).
void normalise_ranges(std::vector<Range>& ranges);

}  // namespace sluice::policy
