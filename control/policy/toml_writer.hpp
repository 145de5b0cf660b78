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

}  // namespace sluice::policy
