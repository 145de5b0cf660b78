#include "control/runtime/shaper_config.hpp"

#include <algorithm>
#include <functional>
#include <string_view>
#include <unordered_map>

namespace sluice::runtime {

using namespace shaper;

SchedulerConfig scheduler_config(const policy::ClassTree& tree, uint64_t tick_hz, uint32_t packet_capacity) {
    SchedulerConfig c;
    c.tick_hz = tick_hz;
    c.packet_capacity = packet_capacity;
    const policy::Overhead& o = tree.link.overhead;
    c.overhead.overhead = o.bytes;
    c.overhead.mpu = o.mpu;
    c.overhead.framing = o.framing == policy::Framing::atm   ? Framing::atm
                         : o.framing == policy::Framing::ptm ? Framing::ptm
                                                             : Framing::none;
    return c;
}

namespace {

LeafConfig leaf_config(const policy::Queue& q) {
    LeafConfig l;
    l.kind = q.kind == policy::QueueKind::fifo    ? LeafKind::fifo
             : q.kind == policy::QueueKind::codel ? LeafKind::codel
                                                  : LeafKind::fq_codel;
    l.limit_packets = q.limit_packets;
    l.limit_bytes = q.limit_bytes;
    l.codel.target_us = q.target_us;
    l.codel.interval_us = q.interval_us;
    l.flows = q.flows;
    l.quantum = q.quantum;
    return l;
}

ClassConfig class_config(const policy::Class& c, uint32_t id, uint32_t parent_id) {
    ClassConfig cfg;
    cfg.id = id;
    cfg.parent = parent_id;
    cfg.rate = c.rate;
    cfg.ceil = c.ceil;
    cfg.burst = c.burst;
    cfg.cburst = c.cburst;
    cfg.prio = c.priority;
    cfg.weight = c.weight;
    cfg.leaf = leaf_config(c.queue);
    return cfg;
}

// Breadth first from the root, so every parent comes before its children.
std::vector<uint32_t> parents_first(const policy::ClassTree& tree) {
    std::vector<uint32_t> order{policy::kRootClass};
    for (size_t i = 0; i < order.size(); ++i) {
        for (uint32_t child : tree.classes[order[i]].children) order.push_back(child);
    }
    return order;
}

}  // namespace

std::vector<uint32_t> numbered_ids(const policy::ClassTree& tree) {
    std::vector<uint32_t> ids(tree.classes.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<uint32_t>(i);
    return ids;
}

std::vector<ClassConfig> class_configs(const policy::ClassTree& tree) {
    return class_configs(tree, numbered_ids(tree));
}

std::vector<ClassConfig> class_configs(const policy::ClassTree& tree, const std::vector<uint32_t>& ids) {
    std::vector<ClassConfig> out;
    for (uint32_t i : parents_first(tree)) {
        const policy::Class& c = tree.classes[i];
        out.push_back(class_config(c, ids[i], c.parent == policy::kNoClass ? kNoParent : ids[c.parent]));
    }
    return out;
}

uint32_t IdSupply::take() {
    if (free.empty()) return next++;
    const uint32_t id = free.back();
    free.pop_back();
    return id;
}

void IdSupply::release(const std::vector<uint32_t>& ids) {
    free.insert(free.end(), ids.begin(), ids.end());
    std::sort(free.begin(), free.end(), std::greater<>());
}

TreePlan plan_tree_change(const policy::ClassTree& was, const std::vector<uint32_t>& was_ids,
                          const policy::ClassTree& now, IdSupply supply) {
    TreePlan plan;
    plan.ids.assign(now.classes.size(), kNoParent);
    std::unordered_map<std::string_view, uint32_t> by_name;
    for (const policy::Class& c : was.classes) by_name.emplace(c.name, c.id);

    constexpr uint32_t kUnmatched = UINT32_MAX;
    std::vector<uint32_t> match(now.classes.size(), kUnmatched);  // new class -> old class it continues
    std::vector<bool> old_kept(was.classes.size(), false);
    for (uint32_t i : parents_first(now)) {
        const policy::Class& c = now.classes[i];
        uint32_t old = kUnmatched;
        if (i == policy::kRootClass) {
            old = policy::kRootClass;  // the link is always the same class
        } else if (const auto it = by_name.find(c.name); it != by_name.end()) {
            const policy::Class& o = was.classes[it->second];
            const bool same_place = o.parent != policy::kNoClass && match[c.parent] == o.parent;
            if (same_place && leaf_config(o.queue) == leaf_config(c.queue)) old = o.id;
        }
        const uint32_t parent_id = c.parent == policy::kNoClass ? kNoParent : plan.ids[c.parent];
        if (old == kUnmatched) {
            plan.ids[i] = supply.take();
            const ClassConfig cfg = class_config(c, plan.ids[i], parent_id);
            plan.before.push_back(AddClass{cfg});
            plan.undo.push_back(RemoveClass{cfg.id, std::nullopt});
            ++plan.added;
            continue;
        }
        match[i] = old;
        old_kept[old] = true;
        plan.ids[i] = was_ids[old];
        ++plan.kept;
        const policy::Class& o = was.classes[old];
        if (o.rate != c.rate || o.ceil != c.ceil || o.burst != c.burst || o.cburst != c.cburst ||
            o.priority != c.priority || o.weight != c.weight) {
            plan.before.push_back(ModifyClass{plan.ids[i], c.rate, c.ceil, c.burst, c.cburst, c.priority, c.weight});
            plan.undo.push_back(ModifyClass{plan.ids[i], o.rate, o.ceil, o.burst, o.cburst, o.priority, o.weight});
            ++plan.modified;
        }
    }
    // Adds come after the modifies: a new class may hang under a kept one.
    std::stable_partition(plan.before.begin(), plan.before.end(),
                          [](const ClassChange& ch) { return std::holds_alternative<ModifyClass>(ch); });
    std::stable_partition(plan.undo.begin(), plan.undo.end(),
                          [](const ClassChange& ch) { return std::holds_alternative<ModifyClass>(ch); });

    // Each removed subtree goes as a whole, from its top: an old class that
    // is not kept under a parent that is.
    const uint32_t target = plan.ids[now.default_class];
    const uint32_t target_old = match[now.default_class];
    for (const policy::Class& o : was.classes) {
        if (old_kept[o.id]) continue;
        ++plan.removed;
        plan.released.push_back(was_ids[o.id]);
        if (o.parent == policy::kNoClass || !old_kept[o.parent]) continue;
        RemoveClass rc{was_ids[o.id], target};
        // The default class is still inner while its old children remain.
        if (!now.classes[now.default_class].is_leaf() || (target_old != kUnmatched && o.parent == target_old)) {
            rc.move_packets_to.reset();
        }
        plan.after.push_back(rc);
    }
    plan.supply = std::move(supply);
    return plan;
}

Result<std::unique_ptr<Scheduler>> build_scheduler(const policy::ClassTree& tree, uint64_t tick_hz,
                                                   uint32_t packet_capacity, uint64_t now) {
    auto s = std::make_unique<Scheduler>(scheduler_config(tree, tick_hz, packet_capacity));
    for (const ClassConfig& cfg : class_configs(tree)) {
        const Status st = s->apply(AddClass{cfg}, now);
        if (!st) return Error{"class '" + tree.classes[cfg.id].name + "': " + st.error()};
    }
    return s;
}

}  // namespace sluice::runtime
