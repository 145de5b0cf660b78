// Live changes to the class tree (AddClass, RemoveClass, ModifyClass), applied
// by the owning worker between bursts: each change is checked completely
// before any state is touched, and queued packets are kept, moved, or
// dropped one by one under a named reason, never lost.
#include <string>

#include "shaper/scheduler.hpp"
#include "shaper/scheduler_inline.hpp"

namespace sluice::shaper {

uint64_t Scheduler::ticks_from_us(uint64_t us) const {
    return static_cast<uint64_t>(uint128{us} * config_.tick_hz / 1'000'000);
}
Status Scheduler::apply(const ClassChange& change, uint64_t now) {
    advance_clock(now);
    wheel_.advance(now_, [this](uint32_t x) { on_timer(x); });
    if (const auto* a = std::get_if<AddClass>(&change)) return add_class(a->config, now_);
    if (const auto* r = std::get_if<RemoveClass>(&change)) return remove_class(*r);
    return modify_class(std::get<ModifyClass>(change), now_);
}

Status Scheduler::check_config(const ClassConfig& cfg, bool is_root) const {
    const std::string who = "class " + std::to_string(cfg.id) + ": ";
    if (cfg.rate < kMinRate)
        return Status::failure(who + "rate must be at least 1 kbit/s (125 bytes/s), got " +
                               std::to_string(cfg.rate) + " bytes/s");
    if (!is_root && cfg.ceil != 0 && cfg.ceil < cfg.rate)
        return Status::failure(who + "ceil (" + std::to_string(cfg.ceil) + ") is below rate (" +
                               std::to_string(cfg.rate) + "); set ceil >= rate or leave it 0");
    if (cfg.prio >= kPrioCount) return Status::failure(who + "prio must be 0..7");
    if (cfg.weight == 0 || cfg.weight > 1'000'000) return Status::failure(who + "weight must be 1..1000000");
    const LeafConfig& l = cfg.leaf;
    if (l.limit_packets == 0) return Status::failure(who + "leaf limit_packets must be at least 1");
    if (l.kind != LeafKind::fifo && (l.codel.target_us == 0 || l.codel.interval_us < l.codel.target_us))
        return Status::failure(who + "codel needs 0 < target <= interval");
    if (l.kind == LeafKind::fq_codel && (l.flows == 0 || l.flows > 65'536 || l.quantum == 0))
        return Status::failure(who + "fq_codel needs 1..65536 flows and a quantum > 0");
    return Status::success();
}

void Scheduler::set_profile(uint32_t x, const ClassConfig& cfg) {
    ClassState& c = cls_[x];
    const bool root = cfg.parent == kNoParent;
    const uint64_t ceil = root || cfg.ceil == 0 ? cfg.rate : cfg.ceil;
    auto burst_for = [&](uint64_t rate, uint32_t given) -> uint64_t {
        // As tc does for HTB: a round's worth of bytes at the rate plus one
        // MTU, so a class can always send a full packet on top of a round.
        if (given) return std::max<uint64_t>(given, mtu_cost_);
        return static_cast<uint64_t>(uint128{rate} * config_.default_burst_us / 1'000'000) + mtu_cost_;
    };
    ClassProfile p;
    p.rate = BucketProfile::make(config_.tick_hz, cfg.rate, burst_for(cfg.rate, cfg.burst));
    p.ceil = BucketProfile::make(config_.tick_hz, ceil, burst_for(ceil, root ? cfg.burst : cfg.cburst));
    p.quantum = cfg.weight * config_.quantum_per_weight;
    p.limits = {cfg.leaf.limit_packets, cfg.leaf.limit_bytes};
    if (cfg.leaf.kind == LeafKind::fq_codel)
        p.fq = {cfg.leaf.flows, cfg.leaf.quantum, codel_profile_of(cfg.leaf)};
    // Take the new one before letting go of the old: they may be the same.
    const uint32_t old = c.profile;
    c.profile = profiles_.intern(p);
    if (old != kNone) profiles_.release(old);
    c.prio = cfg.prio;
}

// Sets up the (empty) queue of a class that is, or is again, a leaf.
void Scheduler::set_leaf(uint32_t x, const LeafConfig& l) {
    cls_[x].kind = l.kind;
    cls_[x].queue.reset(l.kind);
    LeafTuning& t = tuning_[x];
    t.codel_profile = codel_profile_of(l);
    t.codel = {};
    fq_flows_[x] = l.kind == LeafKind::fq_codel ? l.flows : 0;
    if (l.kind == LeafKind::fq_codel) flows_.reserve(config_.packet_capacity);
}

uint32_t Scheduler::allocate_slot() {
    if (!free_slots_.empty()) {
        const uint32_t x = free_slots_.back();
        free_slots_.pop_back();
        return x;
    }
    const auto x = static_cast<uint32_t>(cls_.size());
    cls_.emplace_back();
    tree_.emplace_back();
    links_.emplace_back();
    feed_.emplace_back();
    tuning_.emplace_back();
    fq_flows_.emplace_back();
    counters_.emplace_back();
    configs_.emplace_back();
    wheel_.resize(x + 1);
    delays_.add_slot(x);
    return x;
}

void Scheduler::release_slot(uint32_t x) {
    delays_.clear_slot(x);
    profiles_.release(cls_[x].profile);
    cls_[x] = ClassState{};
    tree_[x] = TreeLinks{};
    links_[x] = {};
    feed_[x] = {};
    tuning_[x] = LeafTuning{};
    fq_flows_[x] = 0;
    counters_[x] = {};
    free_slots_.push_back(x);
}

Status Scheduler::add_class(const ClassConfig& cfg, uint64_t now) {
    if (ids_.find(cfg.id) != IdIndex::kMissing)
        return Status::failure("class " + std::to_string(cfg.id) + " already exists");
    uint32_t parent = kNone;
    if (cfg.parent != kNoParent) {
        parent = ids_.find(cfg.parent);
        if (parent == IdIndex::kMissing)
            return Status::failure("class " + std::to_string(cfg.id) + ": parent " + std::to_string(cfg.parent) +
                                   " does not exist; add the parent first");
        if (tree_[parent].depth + 1u > kMaxDepth)
            return Status::failure("class " + std::to_string(cfg.id) + ": the tree may be at most " +
                                   std::to_string(kMaxDepth) + " levels deep");
    }
    if (Status s = check_config(cfg, parent == kNone); !s) return s;

    const uint32_t x = allocate_slot();
    ClassState& c = cls_[x];
    c.parent = parent;
    tree_[x].depth = static_cast<uint8_t>(parent == kNone ? 0 : tree_[parent].depth + 1);
    c.level = 0;
    c.leaf = true;
    configs_[x] = cfg;
    if (cfg.leaf.kind != LeafKind::fifo) ++aqm_classes_;
    if (cfg.leaf.kind == LeafKind::fq_codel) ++fq_classes_;
    set_profile(x, cfg);
    c.tokens = profile_of(c).rate.size;
    c.ctokens = profile_of(c).ceil.size;
    c.t_c = now;
    c.mode = Mode::can_send;
    set_leaf(x, cfg.leaf);
    ids_.insert(cfg.id, x);

    if (parent != kNone) {
        ClassState& p = cls_[parent];
        const bool was_leaf = p.leaf;
        TreeLinks& pt = tree_[parent];
        tree_[x].next_sibling = pt.first_child;
        if (pt.first_child != kNone) tree_[pt.first_child].prev_sibling = x;
        pt.first_child = x;
        if (was_leaf) {
            // The parent turns inner; its queued packets move to this child
            // in their order, keeping their arrival times.
            deactivate(parent);
            p.leaf = false;
            p.level = static_cast<uint8_t>(kLevels - 1 - pt.depth);
            p.queue.drain(p.kind, leaf_env(), parent, tuning_[parent], [&](uint32_t s) { queue_slot(x, s); });
            set_leaf(parent, configs_[parent].leaf);
        }
    }
    return Status::success();
}

Status Scheduler::remove_class(const RemoveClass& rc) {
    const uint32_t top = ids_.find(rc.id);
    if (top == IdIndex::kMissing) return Status::failure("class " + std::to_string(rc.id) + " does not exist");
    // The subtree, parents before children.
    std::vector<uint32_t> subtree{top};
    for (size_t i = 0; i < subtree.size(); ++i)
        for (uint32_t ch = tree_[subtree[i]].first_child; ch != kNone; ch = tree_[ch].next_sibling)
            subtree.push_back(ch);
    uint32_t target = kNone;
    if (rc.move_packets_to) {
        target = ids_.find(*rc.move_packets_to);
        if (target == IdIndex::kMissing)
            return Status::failure("class " + std::to_string(*rc.move_packets_to) +
                                   " (to take the removed class's packets) does not exist");
        if (!cls_[target].leaf)
            return Status::failure("class " + std::to_string(*rc.move_packets_to) +
                                   " is not a leaf; packets can only move to a leaf");
        for (uint32_t x : subtree)
            if (x == target)
                return Status::failure("class " + std::to_string(*rc.move_packets_to) + " is being removed itself");
    }

    // Children before parents, so each removed class is childless.
    for (auto it = subtree.rbegin(); it != subtree.rend(); ++it) {
        const uint32_t x = *it;
        ClassState& c = cls_[x];
        deactivate(x);
        c.queue.drain(c.kind, leaf_env(), x, tuning_[x], [&](uint32_t s) {
            if (target != kNone)
                queue_slot(target, s);
            else
                drop_slot(x, s, DropReason::class_removed);
        });
        disarm_timer(x);
        // What it sent and dropped stays in its parent's sums: the
        // parent's counters never go back (children go first, so the
        // whole subtree ends up in the removed top's parent).
        fold_into_parent(x);
        const TreeLinks& t = tree_[x];
        if (t.prev_sibling != kNone)
            tree_[t.prev_sibling].next_sibling = t.next_sibling;
        else if (c.parent != kNone)
            tree_[c.parent].first_child = t.next_sibling;
        if (t.next_sibling != kNone) tree_[t.next_sibling].prev_sibling = t.prev_sibling;
        const uint32_t parent = c.parent;
        ids_.erase(configs_[x].id);
        if (configs_[x].leaf.kind != LeafKind::fifo) --aqm_classes_;
        if (configs_[x].leaf.kind == LeafKind::fq_codel) --fq_classes_;
        release_slot(x);
        if (parent != kNone && x == top && tree_[parent].first_child == kNone) {
            // The parent is a leaf again, with the queue its config names.
            ClassState& p = cls_[parent];
            p.leaf = true;
            p.level = 0;
            set_leaf(parent, configs_[parent].leaf);
        }
    }
    return Status::success();
}

void Scheduler::queued_classes(std::vector<uint32_t>& ids) const {
    for (uint32_t x = 0; x < cls_.size(); ++x) {
        const ClassState& c = cls_[x];
        if (c.profile != kNone && c.leaf && !c.queue.empty(c.kind)) ids.push_back(configs_[x].id);
    }
}

uint32_t Scheduler::move_queued(uint32_t class_id, ClassOfBurst class_of, void* context, uint64_t now) {
    const uint32_t x = ids_.find(class_id);
    if (x == IdIndex::kMissing || !cls_[x].leaf) return 0;
    advance_clock(now);
    wheel_.advance(now_, [this](uint32_t y) { on_timer(y); });
    // Off the queue first, all of it: a packet that stays goes back in
    // behind those that stayed before it, so its order holds too.
    ClassState& c = cls_[x];
    deactivate(x);
    PacketList held;
    c.queue.drain(c.kind, leaf_env(), x, tuning_[x], [&](uint32_t s) { held.push(pool_, s); });
    constexpr uint32_t kChunk = 64;
    uint32_t slots[kChunk];
    Packet packets[kChunk];
    uint32_t to[kChunk];
    uint32_t moved = 0;
    while (!held.empty()) {
        uint32_t n = 0;
        for (; n < kChunk && !held.empty(); ++n) {
            slots[n] = held.pop(pool_);
            packets[n] = pool_[slots[n]].packet;
        }
        class_of(context, packets, n, to);
        for (uint32_t i = 0; i < n; ++i) {
            pool_[slots[i]].packet.flow_hash = packets[i].flow_hash;
            uint32_t y = to[i] == kNoClass ? x : ids_.find(to[i]);
            if (y == IdIndex::kMissing || !cls_[y].leaf) y = x;
            moved += y != x;
            queue_slot(y, slots[i]);
        }
    }
    return moved;
}

Status Scheduler::modify_class(const ModifyClass& mc, uint64_t now) {
    const uint32_t x = ids_.find(mc.id);
    if (x == IdIndex::kMissing) return Status::failure("class " + std::to_string(mc.id) + " does not exist");
    ClassConfig cfg = configs_[x];
    if (mc.rate) cfg.rate = *mc.rate;
    if (mc.ceil) cfg.ceil = *mc.ceil;
    if (mc.burst) cfg.burst = *mc.burst;
    if (mc.cburst) cfg.cburst = *mc.cburst;
    if (mc.prio) cfg.prio = *mc.prio;
    if (mc.weight) cfg.weight = *mc.weight;
    if (Status s = check_config(cfg, cfg.parent == kNoParent); !s) return s;

    ClassState& c = cls_[x];
    // Bring the buckets to now, then keep the bytes saved or owed. Both
    // caps are the catch-up's, as in every refill: a change applied on the
    // turn that ends a stall (the rebalancer's, posted meanwhile) would
    // otherwise throw away what the stall is owed beyond one bucket.
    const int64_t cr = credit(now - c.t_c);
    const ClassProfile old = profile_of(c);
    const int64_t tokens = std::min(c.tokens + cr, catch_up_.limit(old.rate.size, c.tokens, cr));
    const int64_t ctokens = std::min(c.ctokens + cr, catch_up_.limit(old.ceil.size, c.ctokens, cr));
    c.t_c = now;
    const bool active = c.prio_activity != 0;
    if (active && c.leaf && cfg.prio != c.prio) deactivate(x);
    set_profile(x, cfg);
    const ClassProfile& now_p = profile_of(c);
    const int64_t rt = rescale(tokens, old.rate.cost_per_byte, now_p.rate.cost_per_byte);
    const int64_t ct = rescale(ctokens, old.ceil.cost_per_byte, now_p.ceil.cost_per_byte);
    // At most a full bucket at the new rate, plus what the catch-up gave
    // beyond the old one (the bytes a gap is owed): a copy whose rate the
    // rebalancer cuts keeps no full bucket of its old rate.
    const auto owed = [](int64_t t, int64_t size, uint64_t from, uint64_t to) {
        return t > size ? rescale(t - size, from, to) : 0;
    };
    c.tokens = std::min(rt, now_p.rate.size + owed(tokens, old.rate.size, old.rate.cost_per_byte,
                                                   now_p.rate.cost_per_byte));
    c.ctokens = std::min(ct, now_p.ceil.size + owed(ctokens, old.ceil.size, old.ceil.cost_per_byte,
                                                    now_p.ceil.cost_per_byte));
    for (int32_t& d : c.deficit) d = std::min(d, static_cast<int32_t>(now_p.quantum));
    if (active && c.leaf && !c.prio_activity) activate(x);
    configs_[x] = cfg;

    int64_t wait = 0;
    change_mode(x, 0, wait);
    disarm_timer(x);
    if (c.mode != Mode::can_send && c.prio_activity) arm_timer(x, wait);
    return Status::success();
}

}  // namespace sluice::shaper
