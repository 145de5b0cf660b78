#include "control/policy/toml_writer.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <string_view>

#include "control/policy/names.hpp"
#include "control/policy/units.hpp"

namespace sluice::policy {
namespace {

// A TOML basic string. Names may hold any character the file could write
// with an escape; control characters other than tab must be escaped again.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\u00";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string prefix_text(const Prefix& p) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(p.version == 4 ? AF_INET : AF_INET6, p.addr.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(p.length);
}

std::string ranges_text(const std::vector<Range>& rs) {
    std::string out = "[";
    for (size_t i = 0; i < rs.size(); ++i) {
        if (i) out += ", ";
        out += rs[i].lo == rs[i].hi ? std::to_string(rs[i].lo)
                                    : quoted(std::to_string(rs[i].lo) + "-" + std::to_string(rs[i].hi));
    }
    return out + "]";
}

// Management ports are read one number at a time (no "lo-hi" there); the
// loader merges adjacent ones into ranges, so write each port again. A range
// holds no more ports than the file it came from listed.
std::string port_list(const std::vector<Range>& rs) {
    std::string out = "[";
    for (const Range& r : rs) {
        for (uint32_t port = r.lo; port <= r.hi; ++port) {
            if (out.size() > 1) out += ", ";
            out += std::to_string(port);
        }
    }
    return out + "]";
}

std::string mask_list(uint64_t mask, unsigned bits) {
    std::string out = "[";
    bool first = true;
    for (unsigned b = 0; b < bits; ++b) {
        if (!((mask >> b) & 1)) continue;
        out += (first ? "" : ", ") + std::to_string(b);
        first = false;
    }
    return out + "]";
}

// A protocol by name where it has one, else its number.
std::string protocol_text(uint8_t proto) {
    const std::string name = protocol_name(proto);
    const bool numeric = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
    return numeric ? name : quoted(name);
}

const char* framing_name(Framing f) { return f == Framing::atm ? "atm" : f == Framing::ptm ? "ptm" : "none"; }
const char* queue_name(QueueKind k) { return k == QueueKind::fifo ? "fifo" : k == QueueKind::codel ? "codel" : "fq_codel"; }
const char* verdict_name(Verdict v) { return v == Verdict::pass ? "pass" : v == Verdict::remark ? "remark" : "drop"; }

void write_direction(const Policy& p, Direction d, std::string& out) {
    const ClassTree& t = p.tree(d);
    const std::string dir = direction_name(d);
    out += "[" + dir + "]\n";
    out += "rate = " + quoted(format_rate(t.link.rate)) + "\n";
    const Overhead& o = t.link.overhead;
    if (!o.preset.empty()) {
        out += "overhead = " + quoted(o.preset) + "\n";
    } else {
        out += "overhead = { bytes = " + std::to_string(o.bytes) + ", mpu = " + std::to_string(o.mpu) +
               ", framing = " + quoted(framing_name(o.framing)) + " }\n";
    }
    if (t.classes.size() > 1) out += "default_class = " + quoted(t.classes[t.default_class].name) + "\n";
    out += "\n";
    for (const Class& c : t.classes) {
        if (c.id == kRootClass) continue;
        out += "[[" + dir + ".class]]\n";
        out += "name = " + quoted(c.name) + "\n";
        out += "parent = " + quoted(t.classes[c.parent].name) + "\n";
        out += "rate = " + quoted(format_rate(c.rate)) + "\n";
        out += "ceil = " + quoted(format_rate(c.ceil)) + "\n";
        out += "burst = " + std::to_string(c.burst) + "\n";
        out += "cburst = " + std::to_string(c.cburst) + "\n";
        out += "weight = " + std::to_string(c.weight) + "\n";
        if (c.set_dscp) out += "set_dscp = " + std::to_string(*c.set_dscp) + "\n";
        if (c.is_leaf()) {
            const Queue& q = c.queue;
            out += "priority = " + std::to_string(c.priority) + "\n";
            out += "queue = " + quoted(queue_name(q.kind)) + "\n";
            out += "limit = " + std::to_string(q.limit_packets) + "\n";
            if (q.limit_bytes) out += "limit_bytes = " + std::to_string(q.limit_bytes) + "\n";
            if (q.kind != QueueKind::fifo) {
                out += "target = " + quoted(std::to_string(q.target_us) + "us") + "\n";
                out += "interval = " + quoted(std::to_string(q.interval_us) + "us") + "\n";
            }
            if (q.kind == QueueKind::fq_codel) {
                out += "flows = " + std::to_string(q.flows) + "\n";
                out += "quantum = " + std::to_string(q.quantum) + "\n";
            }
        }
        out += "\n";
    }
}

void write_rule(const Policy& p, const Rule& r, std::string& out) {
    const Match& m = r.match;
    out += "[[rule]]\nname = " + quoted(r.name) + "\n";
    if (m.side != SideMatch::any) out += std::string("side = ") + (m.side == SideMatch::lan ? "\"lan\"" : "\"wan\"") + "\n";
    if (m.vlan) {
        out += "vlan = " + (m.vlan->lo == m.vlan->hi ? std::to_string(m.vlan->lo)
                                                      : quoted(std::to_string(m.vlan->lo) + "-" + std::to_string(m.vlan->hi))) + "\n";
    }
    if (m.pcp != kAnyPcp) out += "pcp = " + mask_list(m.pcp, 8) + "\n";
    if (m.ethertype) out += "ethertype = " + std::to_string(*m.ethertype) + "\n";
    if (m.ip_version) out += "ip = " + std::to_string(m.ip_version) + "\n";
    for (const auto& [key, list] : {std::pair{"src", &m.src}, std::pair{"dst", &m.dst}}) {
        if (list->empty()) continue;
        out += std::string(key) + " = [";
        for (size_t i = 0; i < list->size(); ++i) out += (i ? ", " : "") + quoted(prefix_text((*list)[i]));
        out += "]\n";
    }
    if (m.protocol) out += "protocol = " + protocol_text(*m.protocol) + "\n";
    if (!m.src_ports.empty()) out += "src_port = " + ranges_text(m.src_ports) + "\n";
    if (!m.dst_ports.empty()) out += "dst_port = " + ranges_text(m.dst_ports) + "\n";
    if (m.dscp != kAnyDscp) out += "dscp = " + mask_list(m.dscp, 64) + "\n";
    if (m.fragment != FragmentMatch::any) out += std::string("fragment = ") + (m.fragment == FragmentMatch::fragment ? "true" : "false") + "\n";
    for (Direction d : {Direction::upload, Direction::download}) {
        const uint32_t c = r.action.class_id[index(d)];
        if (c == kNoClass) continue;
        // A side-bound rule's class for the other direction cannot apply; leave it out.
        if ((m.side == SideMatch::lan && d == Direction::download) || (m.side == SideMatch::wan && d == Direction::upload)) continue;
        out += std::string(direction_name(d)) + "_class = " + quoted(p.tree(d).classes[c].name) + "\n";
    }
    if (r.action.set_dscp) out += "set_dscp = " + std::to_string(*r.action.set_dscp) + "\n";
    if (r.action.meter != kNoMeter) out += "meter = " + quoted(p.meters[r.action.meter].name) + "\n";
    out += "\n";
}

void write_meter(const Meter& m, std::string& out) {
    const bool pkts = m.unit == MeterUnit::packets;
    auto rate = [&](uint64_t v) { return pkts ? std::to_string(v) : quoted(format_rate(v)); };
    out += "[[meter]]\nname = " + quoted(m.name) + "\n";
    out += std::string("kind = ") + (m.kind == MeterKind::srtcm ? "\"srtcm\"" : "\"trtcm\"") + "\n";
    out += std::string("mode = ") + (m.mode == ColourMode::blind ? "\"color-blind\"" : "\"color-aware\"") + "\n";
    if (pkts) out += "unit = \"packets\"\n";
    out += "cir = " + rate(m.cir) + "\ncbs = " + std::to_string(m.cbs) + "\n";
    if (m.kind == MeterKind::srtcm) {
        out += "ebs = " + std::to_string(m.ebs) + "\n";
    } else {
        out += "pir = " + rate(m.pir) + "\npbs = " + std::to_string(m.pbs) + "\n";
    }
    for (const auto& [colour, a] : {std::pair{"yellow", m.yellow}, std::pair{"red", m.red}}) {
        out += std::string(colour) + " = " + quoted(verdict_name(a.verdict)) + "\n";
        if (a.verdict == Verdict::remark) out += std::string(colour) + "_dscp = " + std::to_string(a.dscp) + "\n";
    }
    out += "\n";
}

}  // namespace

namespace {
void write_management(const Policy& p, std::string& out);
}

std::string to_toml(const Policy& p) {
    uint32_t unused = 0;
    return to_toml_with_rule(p, p.rules.size(), {}, unused);
}

std::string to_toml_with_rule(const Policy& p, size_t insert_at, std::string_view rule_text, uint32_t& first_line) {
    insert_at = std::min(insert_at, p.rules.size());
    std::string out = "# Written by sluiced (policy save): the running policy, live changes included.\nversion = 1\n\n";
    write_direction(p, Direction::upload, out);
    write_direction(p, Direction::download, out);
    for (const Meter& m : p.meters) write_meter(m, out);
    for (size_t i = 0; i <= p.rules.size(); ++i) {
        if (i == insert_at && !rule_text.empty()) {
            out += "[[rule]]\n";
            first_line = static_cast<uint32_t>(std::count(out.begin(), out.end(), '\n')) + 1;
            out += rule_text;
            if (out.back() != '\n') out += '\n';
            out += "\n";
        }
        if (i < p.rules.size()) write_rule(p, p.rules[i], out);
    }
    write_management(p, out);
    return out;
}

namespace {
void write_management(const Policy& p, std::string& out) {
    if (!p.management.addresses.empty()) {
        out += "[management]\naddresses = [";
        for (size_t i = 0; i < p.management.addresses.size(); ++i) {
            out += (i ? ", " : "") + quoted(prefix_text(p.management.addresses[i]));
        }
        out += "]\n\n";
        for (const Service& s : p.management.services) {
            out += "[[management.service]]\nprotocol = " + protocol_text(s.protocol) + "\n";
            if (!s.ports.empty()) out += "ports = " + port_list(s.ports) + "\n";
            out += "\n";
        }
    }
}
}  // namespace

}  // namespace sluice::policy
