#include "control/runtime/policy_counters.hpp"

#include <string>

#include "dataplane/pipeline/handoff.hpp"

namespace sluice::runtime {

control::json counters_json(const CounterSources& s, std::chrono::steady_clock::time_point now) {
    using control::json;
    json out = json::object();
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const auto dir = static_cast<classifier::Direction>(d);
        const auto rt = s.tables.counts(dir);
        const auto& tree = s.policy.directions[d];
        json classes = json::array();
        for (const auto& c : tree.classes) {
            if (c.id >= rt.class_packets.size()) break;
            const std::array<uint64_t, 2> before = s.carried.class_counts(d, c.name);
            json j{{"name", c.name}, {"classified_packets", before[0] + rt.class_packets[c.id]},
                   {"classified_bytes", before[1] + rt.class_bytes[c.id]}};
            // Read while the worker runs: single-writer counters, a snapshot
            // that may be a packet or two out of step, never torn apart.
            const auto* schedulers = s.schedulers[d];
            if (schedulers != nullptr && !schedulers->empty()) {
                const uint32_t id = (*s.shaper_ids[d])[c.id];
                const unsigned n = static_cast<unsigned>(schedulers->size());
                const unsigned owner = dataplane::owner_of(id, n);
                if (const auto snap = (*schedulers)[owner]->snapshot(id)) {
                    auto k = snap->counters;
                    uint64_t backlog_packets = snap->backlog_packets, backlog_bytes = snap->backlog_bytes;
                    // The other workers' copies: an inner class's departures
                    // through them, and policed packets of a leaf counted
                    // where they were classified.
                    for (unsigned w = 0; w < n; ++w) {
                        if (w == owner) continue;
                        const auto other = (*schedulers)[w]->snapshot(id);
                        if (!other) continue;
                        k.packets += other->counters.packets;
                        k.bytes += other->counters.bytes;
                        for (size_t r = 0; r < shaper::kDropReasonCount; ++r) k.drops[r] += other->counters.drops[r];
                        backlog_packets += other->backlog_packets;
                        backlog_bytes += other->backlog_bytes;
                    }
                    json drops = json::object();
                    for (size_t r = 0; r < shaper::kDropReasonCount; ++r) {
                        drops[std::string(shaper::drop_reason_name(static_cast<shaper::DropReason>(r)))] = k.drops[r];
                    }
                    j["sent_packets"] = k.packets;
                    j["sent_bytes"] = k.bytes;
                    j["drops"] = drops;
                    j["backlog_packets"] = backlog_packets;
                    j["backlog_bytes"] = backlog_bytes;
                    j["delay_p50_us"] = static_cast<double>(snap->delay_p50_ns) / 1000.0;
                    j["delay_p99_us"] = static_cast<double>(snap->delay_p99_ns) / 1000.0;
                    j["delay_samples"] = snap->delay_samples;
                    // The recent window: what departed since the oldest sample kept.
                    const auto recent = (*s.windows[d])[owner].recent(id, *snap, now);
                    j["delay_recent_window_s"] = recent.window_s;
                    j["delay_recent_samples"] = recent.samples;
                    j["delay_recent_p50_us"] = recent.p50_us;
                    j["delay_recent_p99_us"] = recent.p99_us;
                }
            }
            classes.push_back(j);
        }
        json rules = json::array();
        for (size_t i = 0; i < s.policy.rules.size() && i < rt.rule_hits.size(); ++i) {
            const uint64_t before = s.carried.rule_hits(d, s.policy.rules[i].name);
            rules.push_back({{"name", s.policy.rules[i].name}, {"hits", before + rt.rule_hits[i]}});
        }
        json meters = json::array();
        for (size_t m = 0; m < s.policy.meters.size() && 3 * m + 2 < rt.meter_packets.size(); ++m) {
            const std::array<uint64_t, 3> before = s.carried.meter_counts(d, s.policy.meters[m].name);
            meters.push_back({{"name", s.policy.meters[m].name},
                              {"green", before[0] + rt.meter_packets[3 * m]},
                              {"yellow", before[1] + rt.meter_packets[3 * m + 1]},
                              {"red", before[2] + rt.meter_packets[3 * m + 2]}});
        }
        out[policy::direction_name(static_cast<policy::Direction>(d))] =
            json{{"classes", classes}, {"rules", rules}, {"meters", meters},
                 {"unmatched", s.carried.unmatched(d) + rt.default_hits}};
    }
    return out;
}

}  // namespace sluice::runtime
