// From a direction's class tree in the compiled policy to the scheduler's
// configuration: the overhead model and one ClassConfig per class, parents
// before children (the order AddClass needs); and, when a new policy brings
// a different tree, the live changes that turn the running tree into it.
#pragma once

#include <memory>
#include <vector>

#include "control/policy/policy.hpp"
#include "common/result.hpp"
#include "shaper/change.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::runtime {

using shaper::SchedulerConfig;
using shaper::ClassConfig;
using shaper::Scheduler;
using shaper::ClassChange;

SchedulerConfig scheduler_config(const policy::ClassTree& tree, uint64_t tick_hz, uint32_t packet_capacity);
// Scheduler ids are the policy's class numbers, or ids[number] when given.
std::vector<ClassConfig> class_configs(const policy::ClassTree& tree);
// The ids build_scheduler() gives a tree's classes: their numbers.
std::vector<uint32_t> numbered_ids(const policy::ClassTree& tree);
std::vector<ClassConfig> class_configs(const policy::ClassTree& tree, const std::vector<uint32_t>& ids);

// A scheduler with the whole tree added, or why the tree was refused.
Result<std::unique_ptr<Scheduler>> build_scheduler(const policy::ClassTree& tree, uint64_t tick_hz,
                                                   uint32_t packet_capacity, uint64_t now);

// The scheduler ids a direction's new classes can take: first those of
// classes that earlier changes removed, smallest first, then ids never
// used. Reusing them keeps the ids in a dense run however often the tree
// changes, and a dense run is looked up in a plain array (see IdIndex),
// where ids that only grew would in time need the hash table.
struct IdSupply {
    std::vector<uint32_t> free;  // released ids, largest first (taken from the back)
    uint32_t next = 0;           // the first id never handed out

    uint32_t take();
    void release(const std::vector<uint32_t>& ids);
};

// How a running scheduler becomes a new policy's tree without a restart.
//
// The policy numbers classes by their place in the file, which shifts when a
// class is added above another; the scheduler knows each class by an id of
// its own that must not shift, or a class would lose its queue, tokens and
// counters on every reload. A class of the new tree keeps its id when a class
// of that name sat under the same (kept) parent with the same queue settings;
// then only its rates, bursts, priority and weight may need a ModifyClass.
// Anything else is a new class with an id from the supply, and every old
// class not kept is removed with everything below it; its id goes back to
// the supply once the removal has been applied (`released`), for later
// changes: the running classifier may still name it until then.
//
// Order matters for the packets in flight: `before` (modifies, then adds,
// parents first) runs while the old classifier tables still send packets to
// the old ids; then the new tables are published; `after` (the removals) runs
// once no worker can classify a packet into a removed class. By then the
// worker has moved a removed class's queued packets to the classes the new
// tables give them (Scheduler::move_queued, when it adopted the tables), so
// flows keep their order; what is left (packets whose new class was not yet
// a leaf) moves to the new tree's default class, or is dropped as
// class_removed when that class is itself still an inner class at the time
// (its old children are among those being removed).
struct TreePlan {
    std::vector<ClassChange> before;
    std::vector<ClassChange> undo;  // undo[i] reverts before[i]
    std::vector<ClassChange> after;
    std::vector<uint32_t> ids;       // scheduler id per class of the new tree
    IdSupply supply;                 // what is left once the adds took theirs
    std::vector<uint32_t> released;  // ids of the removed classes
    size_t kept = 0, modified = 0, added = 0, removed = 0;  // removed counts whole subtrees' classes

    bool empty() const { return before.empty() && after.empty(); }
    // The supply for the next change, once `after` has been applied.
    IdSupply supply_after_removals() const {
        IdSupply s = supply;
        s.release(released);
        return s;
    }
};

TreePlan plan_tree_change(const policy::ClassTree& was, const std::vector<uint32_t>& was_ids,
                          const policy::ClassTree& now, IdSupply supply);

}  // namespace sluice::runtime
