// Control commands about the policy: load, reload, check, show classes,
// rules and meters, and the per-class/rule/meter counters.
#pragma once

#include "control/server/command_table.hpp"
#include "dataplane/daemon/policy_runtime.hpp"

namespace sluice::dataplane {

void register_policy_commands(control::CommandTable& table, PolicyRuntime& runtime);

}  // namespace sluice::dataplane
