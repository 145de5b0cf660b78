// What `show` and `policy diff` answer: the running policy as JSON, and
// what differs between it and another file. Pure functions of a policy.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.hpp"
#include "control/policy/policy.hpp"
#include "control/server/protocol.hpp"

namespace sluice::runtime {

// A rate in bytes per second as the policy language writes it ("10mbit").
std::string rate_text(uint64_t bytes_per_s);

control::json classes_json(const policy::Policy& p);  // show classes
control::json rules_json(const policy::Policy& p);    // show rules
control::json meters_json(const policy::Policy& p);   // show meters
// What differs between `running` and the policy in `text` (named `name` in
// messages), as lines of the policy dump present on one side only.
Result<control::json> policy_diff(const policy::Policy& running, const std::string& text, const std::string& name);

}  // namespace sluice::runtime
