// The stable textual dump of a compiled policy: one line per link, class,
// rule, meter and management entry, every number resolved (bytes per second,
// bytes, microseconds) so two policies that mean the same thing dump the
// same. Tests pin it; `sluicectl` can show it. The format changes only on
// purpose, with the golden files.
#pragma once

#include <string>

#include "control/policy/policy.hpp"

namespace sluice::policy {

std::string dump(const Policy& policy);

}  // namespace sluice::policy
