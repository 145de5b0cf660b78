#include "control/policy/toml_writer.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string_view>

#include "control/policy/class_tree.hpp"
#include "control/policy/names.hpp"
#include "control/policy/units.hpp"

namespace sluice::policy {
namespace {

std::string quoted(std::string_view s) { return toml_string(s); }

}  // namespace

// A TOML basic string. Names may hold any character the file could write
// with an escape; control characters other than tab must be escaped again.
std::string toml_string(std::string_view s) {
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

namespace {

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

// The text being written, and (when asked) where each part of it lands.
struct Out {
    std::string text;
    TextMap* map = nullptr;
    size_t scanned = 0;   // text[0, scanned) has been searched for newlines
    uint32_t lines = 0;   // newlines found there

    uint32_t next_line() {
        for (; scanned < text.size(); ++scanned) lines += text[scanned] == '\n';
        return lines + 1;
    }
    void table(const std::string& header, std::string what) {
        if (map != nullptr) map->tables.push_back({next_line(), std::move(what)});
        text += header + "\n";
    }
    void given(const GivenKey& k) {
        if (map != nullptr) map->given.emplace_back(next_line(), k.shown);
        text += k.key + " = " + k.toml + "\n";
    }
    Out& operator+=(const std::string& s) {
        text += s;
        return *this;
    }
};

const GivenKey* find_key(const std::vector<GivenKey>* keys, std::string_view key) {
    if (keys == nullptr) return nullptr;
    for (const GivenKey& k : *keys) {
        if (k.key == key) return &k;
    }
    return nullptr;
}

const std::vector<GivenKey>* class_keys(const OperatorText* edit, Direction d, std::string_view name) {
    if (edit == nullptr) return nullptr;
    for (const auto& c : edit->classes) {
        if (c.direction == d && c.name == name) return &c.keys;
    }
    return nullptr;
}

void write_direction(const Policy& p, Direction d, const OperatorText* edit, Out& out) {
    const ClassTree& t = p.tree(d);
    const std::string dir = direction_name(d);
    out.table("[" + dir + "]", "[" + dir + "]");
    const auto* link_keys = class_keys(edit, d, kRootName);
    if (const GivenKey* k = find_key(link_keys, "rate")) {
        out.given(*k);
    } else {
        out += "rate = " + quoted(format_rate(t.link.rate)) + "\n";
    }
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
        const auto* keys = class_keys(edit, d, c.name);
        // The operator's key where given, else the class's own when the file gave it.
        auto put = [&](std::string_view key, bool given, const std::string& value) {
            if (const GivenKey* k = find_key(keys, key)) {
                out.given(*k);
            } else if (given) {
                out += std::string(key) + " = " + value + "\n";
            }
        };
        out.table("[[" + dir + ".class]]", "class " + quoted(c.name) + " in " + dir);
        out += "name = " + quoted(c.name) + "\n";
        out += "parent = " + quoted(t.classes[c.parent].name) + "\n";
        put("rate", true, quoted(format_rate_or_share(c.rate_given)));
        put("ceil", c.ceil_given.has_value(), c.ceil_given ? quoted(format_rate_or_share(*c.ceil_given)) : "");
        put("burst", c.burst_given, std::to_string(c.burst));
        put("cburst", c.cburst_given, std::to_string(c.cburst));
        put("weight", c.weight_given, std::to_string(c.weight));
        put("priority", c.priority_given, std::to_string(c.priority));
        if (c.set_dscp) out += "set_dscp = " + std::to_string(*c.set_dscp) + "\n";
        if (c.is_leaf()) {
            const Queue& q = c.queue;
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

void write_rule(const Policy& p, const Rule& r, Out& out) {
    const Match& m = r.match;
    out.table("[[rule]]", "rule " + quoted(r.name));
    out += "name = " + quoted(r.name) + "\n";
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
        std::string line = std::string(key) + " = [";
        for (size_t i = 0; i < list->size(); ++i) line += (i ? ", " : "") + quoted(prefix_text((*list)[i]));
        out += line + "]\n";
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

void write_meter(const Meter& m, const OperatorText* edit, Out& out) {
    const auto* keys = edit != nullptr && edit->meter == m.name ? &edit->meter_keys : nullptr;
    const bool pkts = m.unit == MeterUnit::packets;
    auto rate = [&](uint64_t v) { return pkts ? std::to_string(v) : quoted(format_rate(v)); };
    auto put = [&](std::string_view key, bool given, const std::string& value) {
        if (const GivenKey* k = find_key(keys, key)) {
            out.given(*k);
        } else if (given) {
            out += std::string(key) + " = " + value + "\n";
        }
    };
    out.table("[[meter]]", "meter " + quoted(m.name));
    out += "name = " + quoted(m.name) + "\n";
    out += std::string("kind = ") + (m.kind == MeterKind::srtcm ? "\"srtcm\"" : "\"trtcm\"") + "\n";
    out += std::string("mode = ") + (m.mode == ColourMode::blind ? "\"color-blind\"" : "\"color-aware\"") + "\n";
    if (pkts) out += "unit = \"packets\"\n";
    const bool sr = m.kind == MeterKind::srtcm;
    put("cir", true, rate(m.cir));
    put("cbs", true, std::to_string(m.cbs));
    put("ebs", sr && m.ebs_given, std::to_string(m.ebs));
    put("pir", !sr, rate(m.pir));
    put("pbs", !sr, std::to_string(m.pbs));
    for (const auto& [colour, a] : {std::pair{"yellow", m.yellow}, std::pair{"red", m.red}}) {
        const std::string dscp_key = std::string(colour) + "_dscp";
        const bool new_verdict = find_key(keys, colour) != nullptr;
        put(colour, true, quoted(verdict_name(a.verdict)));
        put(dscp_key, a.verdict == Verdict::remark && !new_verdict, std::to_string(a.dscp));
    }
    out += "\n";
}

void write_management(const Policy& p, Out& out) {
    const Management& m = p.management;
    if (!m.addresses.empty() || !m.ethertypes.empty()) {
        out.table("[management]", "[management]");
        if (!m.addresses.empty()) {
            std::string line = "addresses = [";
            for (size_t i = 0; i < m.addresses.size(); ++i) {
                line += (i ? ", " : "") + quoted(prefix_text(m.addresses[i]));
            }
            out += line + "]\n";
        }
        if (!m.ethertypes.empty()) {
            std::string line = "ethertypes = [";
            for (size_t i = 0; i < m.ethertypes.size(); ++i) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "0x%04x", m.ethertypes[i]);
                line += (i ? ", " : "") + std::string(buf);
            }
            out += line + "]\n";
        }
        out += "\n";
        for (const Service& s : p.management.services) {
            out.table("[[management.service]]", "[[management.service]]");
            out += "protocol = " + protocol_text(s.protocol) + "\n";
            if (!s.ports.empty()) out += "ports = " + port_list(s.ports) + "\n";
            out += "\n";
        }
    }
}

std::string write(const Policy& p, const OperatorText* edit, TextMap* map) {
    Out out;
    out.map = map;
    out += "# Written by sluiced (policy save): the running policy, live changes included.\nversion = 1\n\n";
    write_direction(p, Direction::upload, edit, out);
    write_direction(p, Direction::download, edit, out);
    if (edit != nullptr && edit->trees_only) return std::move(out.text);
    for (const Meter& m : p.meters) write_meter(m, edit, out);
    const size_t insert_at = edit != nullptr ? std::min(edit->rule_at, p.rules.size()) : p.rules.size();
    for (size_t i = 0; i <= p.rules.size(); ++i) {
        if (i == insert_at && edit != nullptr && !edit->rule.empty()) {
            out.table("[[rule]]", "the new rule");
            // Each line of the body is a key the operator gave.
            size_t from = 0;
            const std::string& body = edit->rule;
            while (from < body.size()) {
                size_t to = body.find('\n', from);
                if (to == std::string::npos) to = body.size();
                const std::string_view line(body.data() + from, to - from);
                if (map != nullptr) map->given.emplace_back(out.next_line(), shown_key(line));
                out += std::string(line) + "\n";
                from = to + 1;
            }
            out += "\n";
        }
        if (i < p.rules.size()) write_rule(p, p.rules[i], out);
    }
    write_management(p, out);
    return std::move(out.text);
}

}  // namespace

std::string to_toml(const Policy& p) { return write(p, nullptr, nullptr); }

std::string to_toml(const Policy& p, const OperatorText& edit, TextMap* map) { return write(p, &edit, map); }

std::string shown_key(std::string_view line) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
        return s;
    };
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::string(trim(line));
    const std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    // A plain quoted word is how the command line sends a bare word.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"' &&
        value.substr(1, value.size() - 2).find_first_of("\"\\ ") == std::string_view::npos) {
        value = value.substr(1, value.size() - 2);
    }
    return std::string(key) + "=" + std::string(value);
}

TextMap::Place TextMap::place(uint32_t line) const {
    for (const auto& [at, shown] : given) {
        if (at == line) return {shown, true};
    }
    const auto after = std::upper_bound(tables.begin(), tables.end(), line,
                                        [](uint32_t l, const Table& t) { return l < t.line; });
    if (after == tables.begin()) return {};
    return {std::prev(after)->what, false};
}

}  // namespace sluice::policy
