// Control commands about the policy: load, reload, check, show classes,
// rules and meters, and the per-class/rule/meter counters.
#pragma once

#include "control/server/command_table.hpp"
#include "control/runtime/policy_runtime.hpp"

namespace sluice::runtime {

// `policy_dir` is where members may name files (see docs/operations.md).
void register_policy_commands(control::CommandTable& table, PolicyRuntime& runtime,
                              const policy::PolicyDirectory& policy_dir);

}  // namespace sluice::runtime
