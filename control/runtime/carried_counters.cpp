#include "control/runtime/carried_counters.hpp"

#include <string_view>
#include <unordered_set>

namespace sluice::runtime {

void CarriedCounters::carry(const classifier::ClassifierTables& old, const policy::Policy& was, const policy::Policy& next) {
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const auto rt = old.counts(static_cast<classifier::Direction>(d));
        Kept& c = by_direction_[d];
        c.unmatched += rt.default_hits;
        const auto& tree = was.directions[d];
        for (size_t i = 0; i < tree.classes.size() && i < rt.class_packets.size(); ++i) {
            if (rt.class_packets[i] == 0 && rt.class_bytes[i] == 0) continue;
            auto& k = c.classes[tree.classes[i].name];
            k[0] += rt.class_packets[i];
            k[1] += rt.class_bytes[i];
        }
        for (size_t i = 0; i < was.rules.size() && i < rt.rule_hits.size(); ++i) {
            if (rt.rule_hits[i] != 0) c.rules[was.rules[i].name] += rt.rule_hits[i];
        }
        for (size_t m = 0; m < was.meters.size() && 3 * m + 2 < rt.meter_packets.size(); ++m) {
            const uint64_t* k = &rt.meter_packets[3 * m];
            if (k[0] == 0 && k[1] == 0 && k[2] == 0) continue;
            auto& kept = c.meters[was.meters[m].name];
            for (size_t j = 0; j < 3; ++j) kept[j] += k[j];
        }
        if (!c.classes.empty()) {
            std::unordered_set<std::string_view> names;
            for (const auto& cls : next.directions[d].classes) names.insert(cls.name);
            std::erase_if(c.classes, [&](const auto& e) { return !names.count(e.first); });
        }
        if (!c.rules.empty()) {
            std::unordered_set<std::string_view> names;
            for (const auto& r : next.rules) names.insert(r.name);
            std::erase_if(c.rules, [&](const auto& e) { return !names.count(e.first); });
        }
        if (!c.meters.empty()) {
            std::unordered_set<std::string_view> names;
            for (const auto& m : next.meters) names.insert(m.name);
            std::erase_if(c.meters, [&](const auto& e) { return !names.count(e.first); });
        }
    }
}

std::array<uint64_t, 2> CarriedCounters::class_counts(size_t d, const std::string& name) const {
    const auto it = by_direction_[d].classes.find(name);
    return it == by_direction_[d].classes.end() ? std::array<uint64_t, 2>{} : it->second;
}

uint64_t CarriedCounters::rule_hits(size_t d, const std::string& name) const {
    const auto it = by_direction_[d].rules.find(name);
    return it == by_direction_[d].rules.end() ? 0 : it->second;
}

std::array<uint64_t, 3> CarriedCounters::meter_counts(size_t d, const std::string& name) const {
    const auto it = by_direction_[d].meters.find(name);
    return it == by_direction_[d].meters.end() ? std::array<uint64_t, 3>{} : it->second;
}

}  // namespace sluice::runtime
