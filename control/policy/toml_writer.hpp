// The compiled policy written back as a policy file: what `policy save`
// stores, so that live changes survive a restart. Loading the text gives a
// policy with the same dump: values are written exactly (rates in bits per
// second, sizes in bytes), lists in their normalised form, every class,
// rule, meter and management entry.
#pragma once

#include <string>

#include "control/policy/policy.hpp"

namespace sluice::policy {

std::string to_toml(const Policy& p);

// The same, with `rule_text` (the body of one [[rule]] table, as an operator
// writes it) placed as a rule before rule `insert_at` (0-based; past the end
// appends). `first_line` receives the 1-based line of the body's first line,
// so messages about it can be told apart.
std::string to_toml_with_rule(const Policy& p, size_t insert_at, std::string_view rule_text, uint32_t& first_line);

}  // namespace sluice::policy
