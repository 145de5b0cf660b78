// From a direction's class tree in the compiled policy to the scheduler's
// configuration: the overhead model and one ClassConfig per class, parents
// before children (the order AddClass needs).
#pragma once

#include <memory>
#include <vector>

#include "control/policy/policy.hpp"
#include "dataplane/result.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::shaper {

SchedulerConfig scheduler_config(const policy::ClassTree& tree, uint64_t tick_hz, uint32_t packet_capacity);
std::vector<ClassConfig> class_configs(const policy::ClassTree& tree);

// A scheduler with the whole tree added, or why the tree was refused.
Result<std::unique_ptr<Scheduler>> build_scheduler(const policy::ClassTree& tree, uint64_t tick_hz,
                                                   uint32_t packet_capacity, uint64_t now);

}  // namespace sluice::shaper
