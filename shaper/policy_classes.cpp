#include "shaper/policy_classes.hpp"

namespace sluice::shaper {

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

std::vector<ClassConfig> class_configs(const policy::ClassTree& tree) {
    std::vector<ClassConfig> out;
    // Breadth first from the root, so every parent is added before its children.
    std::vector<uint32_t> order{policy::kRootClass};
    for (size_t i = 0; i < order.size(); ++i) {
        for (uint32_t child : tree.classes[order[i]].children) order.push_back(child);
    }
    for (uint32_t id : order) {
        const policy::Class& c = tree.classes[id];
        ClassConfig cfg;
        cfg.id = c.id;
        cfg.parent = c.parent == policy::kNoClass ? kNoParent : c.parent;
        cfg.rate = c.rate;
        cfg.ceil = c.ceil;
        cfg.burst = c.burst;
        cfg.cburst = c.cburst;
        cfg.prio = c.priority;
        cfg.weight = c.weight;
        const policy::Queue& q = c.queue;
        cfg.leaf.kind = q.kind == policy::QueueKind::fifo    ? LeafKind::fifo
                        : q.kind == policy::QueueKind::codel ? LeafKind::codel
                                                             : LeafKind::fq_codel;
        cfg.leaf.limit_packets = q.limit_packets;
        cfg.leaf.limit_bytes = q.limit_bytes;
        cfg.leaf.codel.target_us = q.target_us;
        cfg.leaf.codel.interval_us = q.interval_us;
        cfg.leaf.flows = q.flows;
        cfg.leaf.quantum = q.quantum;
        out.push_back(cfg);
    }
    return out;
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

}  // namespace sluice::shaper
