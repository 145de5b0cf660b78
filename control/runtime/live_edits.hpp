// Live edits as pure functions of the running policy: each takes the
// operator's arguments, writes them into a copy of the running policy as
// `policy save` would write it (the operator's own values in it), and loads
// that text as a file is loaded. So an edit is checked by exactly the checks
// a file gets, values the operator did not give (bursts from rates, a ceil
// from the parent's, shares of a parent) are derived again, and what an edit
// leaves running always saves and loads back. Nothing here publishes: the
// runtime does that (PolicyRuntime::set_class, edit).
//
// A refusal quotes the command as given ("set class staff rate=6mbit
// refused: ...") and names the key, class, rule or meter each problem is
// about, never a line of the written text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "control/policy/policy.hpp"
#include "control/server/protocol.hpp"

namespace sluice::runtime {

struct EditedPolicy {
    std::shared_ptr<const policy::Policy> policy;
    std::string command;                // the edit as the operator gave it
    std::vector<std::string> warnings;  // the loader's, worded as for the command
    // set class: the directions whose class of that name changed.
    std::vector<policy::Direction> directions;
    // set class: only class numbers differ from the running policy (same
    // classes, rules, meters and marks), so the classifier's tables stay.
    bool classes_only = false;
};

// set class: {"class": NAME, "rate", "ceil", "burst", "cburst",
//             "priority" (or "prio"), "weight", "direction"}
Result<EditedPolicy> edit_class(const policy::Policy& running, const control::json& args);

// rule add:  {"rule": "<TOML body of a [[rule]]>", "at": 1-based position (default: last)}
// rule del:  {"name": NAME}
// rule move: {"name": NAME, "to": 1-based position}
// meter set: {"name": NAME, "cir", "cbs", "ebs", "pir", "pbs", "yellow", "red", "yellow_dscp", "red_dscp"}
Result<EditedPolicy> edit_rules(const policy::Policy& running, const std::string& op, const control::json& args);

}  // namespace sluice::runtime
