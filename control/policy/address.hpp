// IPv4 and IPv6 prefixes as policies write them ("10.1.0.0/16",
// "2001:db8::/32", a bare address meaning a host) and back.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "control/policy/policy.hpp"
#include "control/policy/units.hpp"

namespace sluice::policy {

// Refuses host bits set below the prefix length ("10.0.0.1/8"), naming the
// network that was probably meant.
Parsed<Prefix> parse_prefix(std::string_view text);

std::string format_prefix(const Prefix& p);

// Sorts, removes duplicates and prefixes inside others. Keeps both families.
void normalise_prefixes(std::vector<Prefix>& prefixes);

}  // namespace sluice::policy
