#include "control/runtime/worker_share.hpp"

#include <algorithm>
#include <functional>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "control/runtime/shaper_config.hpp"
#include "dataplane/pipeline/handoff.hpp"

namespace sluice::runtime {

std::vector<uint8_t> class_owners(const policy::ClassTree& tree, const std::vector<uint32_t>& ids_given,
                                  unsigned workers) {
    const std::vector<uint32_t> ids = ids_given.empty() ? numbered_ids(tree) : ids_given;
    const auto id_of = [&ids](const policy::Class& c) { return c.id < ids.size() ? ids[c.id] : c.id; };
    const unsigned n = std::max(1u, workers);
    std::vector<uint8_t> owner;
    const auto set = [&owner](uint32_t id, uint8_t w) {
        if (id >= owner.size()) owner.resize(size_t{id} + 1, kSharedOwner);
        owner[id] = w;
    };
    // A leaf's owner, then each inner class's from what is below it.
    const auto leaf_owner = [&](const policy::Class& c) {
        const policy::Class* parent = c.parent < tree.classes.size() ? &tree.classes[c.parent] : nullptr;
        const bool grouped = parent != nullptr && parent->parent != policy::kNoClass &&
                             parent->children.size() <= kGroupChildren;
        return static_cast<uint8_t>(dataplane::owner_of(grouped ? id_of(*parent) : id_of(c), n));
    };
    const std::function<uint8_t(uint32_t)> walk = [&](uint32_t k) -> uint8_t {
        const policy::Class& c = tree.classes[k];
        uint8_t w = kSharedOwner;
        if (c.is_leaf()) {
            w = leaf_owner(c);
        } else {
            bool first = true;
            for (const uint32_t child : c.children) {
                if (child >= tree.classes.size()) continue;
                const uint8_t cw = walk(child);
                w = first ? cw : (w == cw ? w : kSharedOwner);
                first = false;
            }
        }
        set(id_of(c), w);
        return w;
    };
    if (!tree.classes.empty()) walk(0);
    return owner;
}

std::vector<uint8_t> shared_classes(const policy::ClassTree& tree, const std::vector<uint32_t>& ids,
                                    unsigned workers) {
    std::vector<uint8_t> shared;
    if (workers <= 1) return shared;
    const std::vector<uint8_t> owner = class_owners(tree, ids, workers);
    for (const auto& c : tree.classes) {
        const uint32_t id = !ids.empty() && c.id < ids.size() ? ids[c.id] : c.id;
        if (c.is_leaf() || id >= owner.size() || owner[id] != kSharedOwner) continue;
        if (id >= shared.size()) shared.resize(size_t{id} + 1, 0);
        shared[id] = 1;
    }
    return shared;
}

LocalRate equal_split(uint32_t id, uint64_t rate, uint64_t ceil, unsigned workers) {
    const uint64_t n = std::max(1u, workers);
    // ceil 0 means "the rate" to the scheduler: it stays 0 and follows.
    return LocalRate{id, std::max<uint64_t>(1, rate / n), ceil == 0 ? 0 : std::max<uint64_t>(1, ceil / n)};
}

std::vector<shaper::ClassChange> local_changes(const std::vector<shaper::ClassChange>& changes,
                                               const std::vector<uint8_t>& shared, unsigned workers) {
    if (workers <= 1) return changes;
    const auto is_shared = [&shared](uint32_t id) { return id < shared.size() && shared[id] != 0; };
    std::vector<shaper::ClassChange> out = changes;
    for (auto& change : out) {
        std::visit(
            [&](auto& c) {
                using T = std::decay_t<decltype(c)>;
                if constexpr (std::is_same_v<T, shaper::AddClass>) {
                    if (!is_shared(c.config.id)) return;
                    const LocalRate l = equal_split(c.config.id, c.config.rate, c.config.ceil, workers);
                    c.config.rate = l.rate;
                    c.config.ceil = l.ceil;
                } else if constexpr (std::is_same_v<T, shaper::ModifyClass>) {
                    if (!is_shared(c.id)) return;
                    if (c.rate) c.rate = equal_split(c.id, *c.rate, 0, workers).rate;
                    if (c.ceil) c.ceil = *c.ceil == 0 ? 0 : equal_split(c.id, 0, *c.ceil, workers).ceil;
                }
            },
            change);
    }
    return out;
}

std::vector<shaper::ClassChange> initial_split(const policy::ClassTree& tree, const std::vector<uint32_t>& ids,
                                               unsigned workers) {
    std::vector<shaper::ClassChange> out;
    if (workers <= 1) return out;
    const std::vector<uint8_t> shared = shared_classes(tree, ids, workers);
    for (const auto& c : tree.classes) {
        if (c.is_leaf()) continue;
        const uint32_t id = c.id < ids.size() ? ids[c.id] : c.id;
        if (id >= shared.size() || !shared[id]) continue;
        const LocalRate l = equal_split(id, c.rate, c.ceil, workers);
        shaper::ModifyClass m;
        m.id = id;
        m.rate = l.rate;
        m.ceil = l.ceil;
        out.push_back(m);
    }
    return out;
}

Result<std::vector<std::unique_ptr<shaper::Scheduler>>> build_worker_schedulers(const policy::ClassTree& tree,
                                                                                 uint64_t tick_hz,
                                                                                 uint32_t packet_capacity,
                                                                                 uint64_t now, unsigned workers) {
    const auto split = initial_split(tree, numbered_ids(tree), workers);
    std::vector<std::unique_ptr<shaper::Scheduler>> out;
    for (unsigned w = 0; w < std::max(1u, workers); ++w) {
        auto s = build_scheduler(tree, tick_hz, packet_capacity, now);
        if (!s) return Error{s.error()};
        for (const auto& change : split) {
            if (const auto st = (*s)->apply(change, now); !st) return Error{fmt::format("worker {}: {}", w, st.error())};
        }
        out.push_back(std::move(*s));
    }
    return out;
}

Result<std::unique_ptr<shaper::RateShare>> build_rate_share(const policy::ClassTree& tree,
                                                            const std::vector<uint32_t>& ids_given, unsigned workers,
                                                            const shaper::RateShareConfig& config) {
    const std::vector<uint32_t> ids = ids_given.empty() ? numbered_ids(tree) : ids_given;
    const auto id_of = [&ids](const policy::Class& c) { return c.id < ids.size() ? ids[c.id] : c.id; };
    auto share = std::make_unique<shaper::RateShare>(config, workers);
    const std::vector<uint8_t> owner = class_owners(tree, ids, workers);
    const auto is_shared = [&owner](uint32_t id) { return id < owner.size() && owner[id] == kSharedOwner; };
    for (const auto& c : tree.classes) {
        if (c.is_leaf() || !is_shared(id_of(c))) continue;
        if (const auto st = share->add_class({id_of(c), c.rate, c.ceil}); !st)
            return Error{fmt::format("class '{}' with {} workers: {}", c.name, workers, st.error())};
    }
    for (const auto& leaf : tree.classes) {
        if (!leaf.is_leaf() || leaf.parent == policy::kNoClass) continue;
        const uint32_t id = id_of(leaf);
        // A leaf wants no more of a shared class than the lowest ceil
        // between the two lets through.
        uint64_t ceil = leaf.ceil;
        for (uint32_t p = leaf.parent; p != policy::kNoClass && p < tree.classes.size();
             p = tree.classes[p].parent) {
            const auto& up = tree.classes[p];
            if (is_shared(id_of(up))) {
                const shaper::ShareMember m{id_of(up), owner[id], id, leaf.priority, leaf.rate, leaf.weight, ceil};
                if (const auto st = share->add_member(m); !st)
                    return Error{fmt::format("class '{}': {}", leaf.name, st.error())};
            }
            if (up.ceil != 0) ceil = std::min(ceil, up.ceil);
        }
    }
    return share;
}

Result<std::unique_ptr<dataplane::ShareLink>> build_share_link(const policy::ClassTree& tree,
                                                               const std::vector<uint32_t>& ids, unsigned workers,
                                                               uint32_t period_us, uint64_t tsc_hz) {
    if (workers <= 1) return std::unique_ptr<dataplane::ShareLink>{};
    shaper::RateShareConfig config;
    config.tick_hz = tsc_hz;
    // The local copies' buckets are the scheduler's default burst.
    const SchedulerConfig sc = scheduler_config(tree, tsc_hz, 1);
    config.burst_us = sc.default_burst_us;
    config.mtu = sc.mtu;
    auto share = build_rate_share(tree, ids, workers, config);
    if (!share) return Error{share.error()};
    return std::make_unique<dataplane::ShareLink>(std::move(*share), tsc_hz / 1'000'000 * period_us);
}

}  // namespace sluice::runtime
