#include "classifier/classifier_tables.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace sluice::classifier {

Result<std::shared_ptr<const ClassifierTables>> ClassifierTables::compile(const ClassifierSpec& spec,
                                                                         uint64_t now) {
    return compile(spec, now, nullptr);
}

Result<std::shared_ptr<const ClassifierTables>> ClassifierTables::compile(const ClassifierSpec& spec, uint64_t now,
                                                                         std::shared_ptr<const RuleSet> rules) {
    if (spec.actions.size() != spec.rules.size()) {
        return Error{fmt::format("{} rules but {} actions", spec.rules.size(), spec.actions.size())};
    }
    for (unsigned d = 0; d < 2; ++d) {
        if (spec.class_count[d] == 0 || spec.default_class[d] >= spec.class_count[d]) {
            return Error{fmt::format("default class {} of direction {} does not exist", spec.default_class[d], d)};
        }
    }
    for (size_t i = 0; i < spec.actions.size(); ++i) {
        const RuleAction& a = spec.actions[i];
        for (unsigned d = 0; d < 2; ++d) {
            if (a.class_id[d] != kNoClass && a.class_id[d] >= spec.class_count[d]) {
                return Error{fmt::format("rule {} sends to class {}, which does not exist", i + 1, a.class_id[d])};
            }
        }
        if (a.meter != kNoMeter && a.meter >= spec.meters.size()) {
            return Error{fmt::format("rule {} uses meter {}, which does not exist", i + 1, a.meter)};
        }
        if (a.set_dscp > 63) return Error{fmt::format("rule {} sets DSCP {}, above 63", i + 1, a.set_dscp)};
    }

    for (unsigned d = 0; d < 2; ++d) {
        if (!spec.class_dscp[d].empty() && spec.class_dscp[d].size() != spec.class_count[d]) {
            return Error{fmt::format("{} class DSCP marks for {} classes", spec.class_dscp[d].size(), spec.class_count[d])};
        }
        if (!spec.egress_class[d].empty() && spec.egress_class[d].size() != spec.class_count[d]) {
            return Error{fmt::format("{} egress ids for {} classes", spec.egress_class[d].size(), spec.class_count[d])};
        }
        for (int16_t v : spec.class_dscp[d]) {
            if (v != kKeepDscp && (v < 0 || v > 63)) return Error{fmt::format("class DSCP mark {} is not 0-63", v)};
        }
    }

    auto t = std::shared_ptr<ClassifierTables>(new ClassifierTables());
    if (rules == nullptr) {
        auto compiled = RuleSet::compile(spec.rules);
        if (!compiled) return Error{compiled.error()};
        rules = *compiled;
    } else if (rules->rule_count() != spec.rules.size()) {
        return Error{fmt::format("rules compiled for {} rules, not {}", rules->rule_count(), spec.rules.size())};
    }
    t->rules_ = std::move(rules);
    t->actions_ = spec.actions;
    t->meters_ = spec.meters;
    for (size_t m = 0; m < spec.meters.size(); ++m) {
        auto p = MeterProfile::make(spec.meters[m].params, spec.tick_hz);
        if (!p) return Error{fmt::format("meter {}: {}", m + 1, p.error())};
        t->profiles_.push_back(*p);
    }
    for (unsigned d = 0; d < 2; ++d) {
        t->default_class_[d] = spec.default_class[d];
        t->class_count_[d] = spec.class_count[d];
        t->class_dscp_[d] = spec.class_dscp[d];
        t->class_dscp_[d].resize(spec.class_count[d], kKeepDscp);
        t->egress_class_[d] = spec.egress_class[d];
        t->egress_owner_[d] = spec.egress_owner[d];
        if (t->egress_class_[d].empty()) {
            for (uint32_t c = 0; c < spec.class_count[d]; ++c) t->egress_class_[d].push_back(c);
        }
        t->runtime_[d].resize(std::max(1u, spec.workers));
        for (DirectionRuntime& rt : t->runtime_[d]) {
            for (const auto& p : t->profiles_) rt.meters.emplace_back(p, now);
            rt.rule_hits.assign(spec.rules.size(), 0);
            rt.class_packets.assign(spec.class_count[d], 0);
            rt.class_bytes.assign(spec.class_count[d], 0);
            rt.meter_packets.assign(spec.meters.size() * 3, 0);
        }
    }
    return std::shared_ptr<const ClassifierTables>(std::move(t));
}

DirectionRuntime ClassifierTables::counts(Direction d) const {
    const auto& per_worker = runtime_[static_cast<unsigned>(d)];
    DirectionRuntime sum;
    sum.rule_hits = per_worker[0].rule_hits;
    sum.class_packets = per_worker[0].class_packets;
    sum.class_bytes = per_worker[0].class_bytes;
    sum.meter_packets = per_worker[0].meter_packets;
    sum.default_hits = per_worker[0].default_hits;
    for (size_t w = 1; w < per_worker.size(); ++w) {
        const DirectionRuntime& rt = per_worker[w];
        for (size_t i = 0; i < sum.rule_hits.size(); ++i) sum.rule_hits[i] += rt.rule_hits[i];
        for (size_t i = 0; i < sum.class_packets.size(); ++i) sum.class_packets[i] += rt.class_packets[i];
        for (size_t i = 0; i < sum.class_bytes.size(); ++i) sum.class_bytes[i] += rt.class_bytes[i];
        for (size_t i = 0; i < sum.meter_packets.size(); ++i) sum.meter_packets[i] += rt.meter_packets[i];
        sum.default_hits += rt.default_hits;
    }
    return sum;
}

}  // namespace sluice::classifier
