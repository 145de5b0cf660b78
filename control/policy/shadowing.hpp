// Rules that can never match because one earlier rule matches every packet
// they would: reported as warnings, since the policy still works.
//
// Rule i covers rule j when, field by field, everything j accepts i accepts
// too. Comparing every pair would be quadratic (50 million pairs for 10,000
// rules), so earlier rules are indexed by the prefixes they require: a rule
// with a destination prefix list is filed under each of those prefixes,
// else one with a source list under its source prefixes, else in a general
// list. Only rules filed under a prefix that contains j's first destination
// (or source) prefix, and the general list, can cover j: that is a few hash
// lookups per prefix length in use. Large rule sets are mostly per-address
// rules, so the general list stays short; if it does not, the comparisons
// stop at a fixed budget and a warning says the check was cut short.
#pragma once

#include <vector>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

inline constexpr uint64_t kShadowComparisonBudget = 5'000'000;

// True when every packet `later` matches is matched by `earlier`.
bool covers(const Match& earlier, const Match& later);

// `positions[i]` is where rule i is written.
void warn_shadowed_rules(const std::vector<Rule>& rules, const std::vector<Position>& positions,
                         DiagnosticSink& sink);

}  // namespace sluice::policy
