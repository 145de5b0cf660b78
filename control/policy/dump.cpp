#include "control/policy/dump.hpp"

#include <bit>
#include <cstdio>

#include "control/policy/address.hpp"
#include "control/policy/names.hpp"

namespace sluice::policy {

namespace {

const char* framing_name(Framing f) {
    switch (f) {
        case Framing::none: return "none";
        case Framing::atm: return "atm";
        case Framing::ptm: return "ptm";
    }
    return "?";
}

const char* queue_name(QueueKind k) {
    switch (k) {
        case QueueKind::fifo: return "fifo";
        case QueueKind::codel: return "codel";
        case QueueKind::fq_codel: return "fq_codel";
    }
    return "?";
}

const char* verdict_name(Verdict v) {
    switch (v) {
        case Verdict::pass: return "pass";
        case Verdict::remark: return "remark";
        case Verdict::drop: return "drop";
    }
    return "?";
}

std::string ranges(const std::vector<Range>& list) {
    std::string out;
    for (const Range& r : list) {
        if (!out.empty()) out += ',';
        out += std::to_string(r.lo);
        if (r.hi != r.lo) out += "-" + std::to_string(r.hi);
    }
    return out;
}

std::string prefixes(const std::vector<Prefix>& list) {
    std::string out;
    for (const Prefix& p : list) {
        if (!out.empty()) out += ',';
        out += format_prefix(p);
    }
    return out;
}

// A bit mask as runs of set bits: "10,12,14" or "32-47".
std::string mask_runs(uint64_t mask, uint32_t bits) {
    std::string out;
    for (uint32_t b = 0; b < bits;) {
        if (((mask >> b) & 1) == 0) {
            ++b;
            continue;
        }
        uint32_t end = b;
        while (end + 1 < bits && ((mask >> (end + 1)) & 1)) ++end;
        if (!out.empty()) out += ',';
        out += std::to_string(b);
        if (end != b) out += "-" + std::to_string(end);
        b = end + 1;
    }
    return out;
}

std::string class_ref(const Policy& p, Direction d, uint32_t id) {
    if (id == kNoClass) return "default";
    return p.tree(d).classes[id].name;
}

void dump_direction(const Policy& p, Direction d, std::string& out) {
    const ClassTree& t = p.tree(d);
    const std::string dir = direction_name(d);
    out += dir + " link rate=" + std::to_string(t.link.rate) + " overhead=" + std::to_string(t.link.overhead.bytes) +
           " mpu=" + std::to_string(t.link.overhead.mpu) + " framing=" + framing_name(t.link.overhead.framing);
    if (!t.link.overhead.preset.empty()) out += " preset=" + t.link.overhead.preset;
    out += "\n";
    out += dir + " default=" + std::to_string(t.default_class) + " " + t.classes[t.default_class].name + "\n";
    for (const Class& c : t.classes) {
        out += dir + " class " + std::to_string(c.id) + " " + c.name;
        out += " parent=" + (c.parent == kNoClass ? std::string("-") : std::to_string(c.parent));
        out += " rate=" + std::to_string(c.rate) + " ceil=" + std::to_string(c.ceil) +
               " burst=" + std::to_string(c.burst) + " cburst=" + std::to_string(c.cburst);
        if (c.is_leaf()) {
            const Queue& q = c.queue;
            out += " prio=" + std::to_string(c.priority) + " weight=" + std::to_string(c.weight);
            out += " queue=" + std::string(queue_name(q.kind)) + " limit=" + std::to_string(q.limit_packets);
            if (q.limit_bytes) out += " limit_bytes=" + std::to_string(q.limit_bytes);
            if (q.kind != QueueKind::fifo)
                out += " target=" + std::to_string(q.target_us) + "us interval=" + std::to_string(q.interval_us) + "us";
            if (q.kind == QueueKind::fq_codel)
                out += " flows=" + std::to_string(q.flows) + " quantum=" + std::to_string(q.quantum);
        } else {
            out += " weight=" + std::to_string(c.weight) + " children=" + std::to_string(c.children.size());
        }
        if (c.set_dscp) out += " set_dscp=" + std::to_string(*c.set_dscp);
        out += "\n";
    }
}

void dump_rule(const Policy& p, size_t i, const Rule& r, std::string& out) {
    const Match& m = r.match;
    // Numbered from 1, as `show rules` and `rule move` count them.
    out += "rule " + std::to_string(i + 1) + " " + r.name;
    if (m.side != SideMatch::any) out += m.side == SideMatch::lan ? " side=lan" : " side=wan";
    if (m.vlan) out += " vlan=" + ranges({*m.vlan});
    if (m.pcp != kAnyPcp) out += " pcp=" + mask_runs(m.pcp, 8);
    if (m.ethertype) out += " ethertype=" + std::to_string(*m.ethertype);
    if (m.ip_version) out += " ip=" + std::to_string(m.ip_version);
    if (!m.src.empty()) out += " src=" + prefixes(m.src);
    if (!m.dst.empty()) out += " dst=" + prefixes(m.dst);
    if (m.protocol) out += " protocol=" + std::to_string(*m.protocol);
    if (!m.src_ports.empty()) out += " src_port=" + ranges(m.src_ports);
    if (!m.dst_ports.empty()) out += " dst_port=" + ranges(m.dst_ports);
    if (m.dscp != kAnyDscp) out += " dscp=" + mask_runs(m.dscp, 64);
    if (m.fragment != FragmentMatch::any) out += m.fragment == FragmentMatch::fragment ? " fragment" : " not_fragment";
    // "-": the rule's side never sees that direction; "default": it does,
    // and sends the packet to the direction's default class.
    out += " ->";
    out += " upload=" + (m.side == SideMatch::wan ? std::string("-") : class_ref(p, Direction::upload, r.action.class_id[0]));
    out += " download=" +
           (m.side == SideMatch::lan ? std::string("-") : class_ref(p, Direction::download, r.action.class_id[1]));
    if (r.action.set_dscp) out += " set_dscp=" + std::to_string(*r.action.set_dscp);
    if (r.action.meter != kNoMeter) out += " meter=" + p.meters[r.action.meter].name;
    out += "\n";
}

void dump_meter(size_t i, const Meter& m, std::string& out) {
    out += "meter " + std::to_string(i) + " " + m.name + (m.kind == MeterKind::srtcm ? " srtcm" : " trtcm") +
           (m.mode == ColourMode::blind ? " color-blind" : " color-aware");
    if (m.unit == MeterUnit::packets) out += " unit=packets";
    out += " cir=" + std::to_string(m.cir) + " cbs=" + std::to_string(m.cbs);
    if (m.kind == MeterKind::srtcm) {
        out += " ebs=" + std::to_string(m.ebs);
    } else {
        out += " pir=" + std::to_string(m.pir) + " pbs=" + std::to_string(m.pbs);
    }
    for (const auto& [colour, action] : {std::pair{"yellow", m.yellow}, std::pair{"red", m.red}}) {
        out += std::string(" ") + colour + "=" + verdict_name(action.verdict);
        if (action.verdict == Verdict::remark) out += ":" + std::to_string(action.dscp);
    }
    out += "\n";
}

}  // namespace

std::string dump(const Policy& p) {
    std::string out;
    dump_direction(p, Direction::upload, out);
    dump_direction(p, Direction::download, out);
    for (size_t i = 0; i < p.meters.size(); ++i) dump_meter(i, p.meters[i], out);
    for (size_t i = 0; i < p.rules.size(); ++i) dump_rule(p, i, p.rules[i], out);
    for (const Prefix& a : p.management.addresses) out += "management address " + format_prefix(a) + "\n";
    for (const Service& s : p.management.services) {
        out += "management service " + protocol_name(s.protocol);
        if (!s.ports.empty()) out += " ports=" + ranges(s.ports);
        out += "\n";
    }
    for (const uint16_t type : p.management.ethertypes) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "0x%04x", type);
        out += "management ethertype " + std::string(buf) + "\n";
    }
    return out;
}

}  // namespace sluice::policy
