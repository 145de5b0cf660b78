#include "control/runtime/classifier_config.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::runtime {

using namespace classifier;
namespace {

std::vector<PortRange> ranges(const std::vector<policy::Range>& in) {
    std::vector<PortRange> out;
    for (const auto& r : in) out.push_back({r.lo, r.hi});
    return out;
}

std::vector<Prefix> prefixes(const std::vector<policy::Prefix>& in) {
    std::vector<Prefix> out;
    for (const auto& p : in) {
        Prefix q;
        q.version = p.version;
        std::copy(p.addr.begin(), p.addr.end(), q.addr);
        q.length = p.length;
        out.push_back(q);
    }
    return out;
}

ColorAction color_action(const policy::ColourAction& a) {
    switch (a.verdict) {
    case policy::Verdict::pass: return {ColorAction::Kind::pass, 0};
    case policy::Verdict::remark: return {ColorAction::Kind::remark, a.dscp};
    case policy::Verdict::drop: return {ColorAction::Kind::drop, 0};
    }
    return {};
}

}  // namespace

PolicySpec spec_from_policy(const policy::Policy& p) {
    PolicySpec out;
    ClassifierSpec& s = out.spec;
    for (const policy::Rule& r : p.rules) {
        const policy::Match& m = r.match;
        RuleSpec spec;
        spec.side = m.side == policy::SideMatch::lan   ? SideMatch::lan
                    : m.side == policy::SideMatch::wan ? SideMatch::wan
                                                       : SideMatch::any;
        spec.ip_version = m.ip_version;
        spec.src = prefixes(m.src);
        spec.dst = prefixes(m.dst);
        spec.protocol = m.protocol;
        spec.src_ports = ranges(m.src_ports);
        spec.dst_ports = ranges(m.dst_ports);
        spec.dscp = m.dscp;
        if (m.vlan) spec.vlan = PortRange{m.vlan->lo, m.vlan->hi};
        spec.pcp = m.pcp;
        spec.fragment = m.fragment == policy::FragmentMatch::fragment       ? FragmentMatch::fragment
                        : m.fragment == policy::FragmentMatch::not_fragment ? FragmentMatch::not_fragment
                                                                            : FragmentMatch::any;
        if (m.ethertype) {
            // The pipeline classifies IP packets only; non-IP frames take
            // the default class. An empty DSCP set makes the rule inert.
            spec.dscp = 0;
            out.notes.push_back(fmt::format("rule '{}' (line {}) matches ethertype 0x{:04x}: non-IP frames take "
                                            "the default class, so it never matches",
                                            r.name, r.line, *m.ethertype));
        }
        s.rules.push_back(std::move(spec));

        RuleAction a;
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            a.class_id[d] = r.action.class_id[d] == policy::kNoClass ? kNoClass : r.action.class_id[d];
        }
        a.set_dscp = r.action.set_dscp ? static_cast<int16_t>(*r.action.set_dscp) : kKeepDscp;
        a.meter = r.action.meter == policy::kNoMeter ? kNoMeter : r.action.meter;
        s.actions.push_back(a);
    }
    for (const policy::Meter& m : p.meters) {
        MeterDef def;
        def.params.kind = m.kind == policy::MeterKind::trtcm ? MeterParams::Kind::trtcm : MeterParams::Kind::srtcm;
        def.params.color_aware = m.mode == policy::ColourMode::aware;
        def.params.unit = m.unit == policy::MeterUnit::packets ? MeterParams::Unit::packets : MeterParams::Unit::bytes;
        def.params.cir = m.cir;
        def.params.cbs = m.cbs;
        def.params.ebs = m.ebs;
        def.params.pir = m.pir;
        def.params.pbs = m.pbs;
        def.yellow = color_action(m.yellow);
        def.red = color_action(m.red);
        s.meters.push_back(def);
    }
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const policy::ClassTree& tree = p.directions[d];
        s.class_count[d] = static_cast<uint32_t>(tree.classes.size());
        s.default_class[d] = tree.default_class;
        s.class_dscp[d].assign(tree.classes.size(), kKeepDscp);
        for (const auto& c : tree.classes) {
            if (c.set_dscp) s.class_dscp[d][c.id] = *c.set_dscp;
        }
    }
    return out;
}

}  // namespace sluice::runtime
