#include "control/runtime/worker_share.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "control/runtime/shaper_config.hpp"

namespace sluice::runtime {

std::vector<uint8_t> shared_classes(const policy::ClassTree& tree, const std::vector<uint32_t>& ids) {
    std::vector<uint8_t> shared;
    for (const auto& c : tree.classes) {
        if (c.is_leaf()) continue;
        const uint32_t id = c.id < ids.size() ? ids[c.id] : c.id;
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
    for (const auto& c : tree.classes) {
        if (c.is_leaf()) continue;
        const uint32_t id = c.id < ids.size() ? ids[c.id] : c.id;
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

}  // namespace sluice::runtime
