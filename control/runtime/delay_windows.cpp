#include "control/runtime/delay_windows.hpp"

namespace sluice::runtime {

void DelayWindows::sample(const shaper::Scheduler& scheduler, const policy::ClassTree& tree,
                          const std::vector<uint32_t>& ids, Clock::time_point now) {
    std::unordered_map<uint32_t, Samples> next;
    for (const auto& c : tree.classes) {
        if (!c.is_leaf() || c.id >= ids.size()) continue;
        if (next.size() >= kMaxLeaves) break;
        const uint32_t id = ids[c.id];
        const auto snap = scheduler.snapshot(id);
        if (!snap || snap->delay_samples == 0) continue;
        Samples kept;
        if (auto it = by_id_.find(id); it != by_id_.end()) {
            kept = std::move(it->second);
            shaper::DelayHistogram check = snap->delays;
            if (kept.count > 0 && !check.subtract(kept.at[kept.count - 1])) kept.count = 0;
        }
        if (kept.count == kept.at.size()) {
            // Oldest out: the window reaches back two sample periods.
            for (size_t i = 1; i < kept.at.size(); ++i) {
                kept.at[i - 1] = kept.at[i];
                kept.when[i - 1] = kept.when[i];
            }
            --kept.count;
        }
        kept.at[kept.count] = snap->delays;
        kept.when[kept.count] = now;
        ++kept.count;
        next.emplace(id, std::move(kept));
    }
    by_id_ = std::move(next);
}

DelayWindows::Recent DelayWindows::recent(uint32_t id, const shaper::ClassSnapshot& snap, Clock::time_point now) const {
    Recent r;
    const auto w = by_id_.find(id);
    if (w == by_id_.end() || w->second.count == 0) return r;
    shaper::DelayHistogram h = snap.delays;
    if (!h.subtract(w->second.at[0])) return r;
    r.window_s = std::chrono::duration<double>(now - w->second.when[0]).count();
    r.samples = h.total();
    if (r.samples != 0) {
        r.p50_us = static_cast<double>(h.quantile_ticks(0.50, snap.delay_floor_shift)) * snap.ns_per_tick / 1000.0;
        r.p99_us = static_cast<double>(h.quantile_ticks(0.99, snap.delay_floor_shift)) * snap.ns_per_tick / 1000.0;
    }
    return r;
}

}  // namespace sluice::runtime
