#include "control/policy/rules.hpp"

#include <algorithm>
#include <charconv>

#include "control/policy/address.hpp"
#include "control/policy/names.hpp"
#include "control/policy/suggest.hpp"
#include "control/policy/toml_reader.hpp"
#include "control/policy/values.hpp"

namespace sluice::policy {

namespace {

constexpr std::array<std::string_view, 18> kRuleKeys{
    "name",     "side",     "vlan",  "pcp",   "ethertype", "ip",          "src",            "dst",      "protocol",
    "src_port", "dst_port", "dscp",  "fragment", "class",  "upload_class", "download_class", "set_dscp", "meter"};

// Calls `each` for the node, or for every element when it is an array.
// An empty array is refused: it would match nothing, which is never meant.
template <typename Each>
bool for_each_value(const TableReader& r, std::string_view key, Each&& each) {
    const toml::node* n = r.find(key);
    if (n == nullptr) return true;
    if (const auto* array = n->as_array()) {
        if (array->empty()) {
            r.error(key, std::string(key) + ": an empty list matches nothing; leave the key out to match any");
            return false;
        }
        bool good = true;
        for (const toml::node& e : *array) good = each(e) && good;
        return good;
    }
    return each(*n);
}

std::optional<uint16_t> parse_u16(std::string_view s) {
    uint32_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || v > 65535) return std::nullopt;
    return static_cast<uint16_t>(v);
}

// One number or a "lo-hi" string, each within [0, max].
std::optional<Range> read_range(const toml::node& node, std::string_view key, uint32_t max, std::string_view what,
                                DiagnosticSink& sink) {
    const std::string limits = " (0 to " + std::to_string(max) + ")";
    if (const auto* i = node.as_integer()) {
        if (i->get() < 0 || i->get() > max) {
            sink.error(position_of(node), key_text(key) + std::to_string(i->get()) + " is not a " + std::string(what) +
                                              limits);
            return std::nullopt;
        }
        const auto v = static_cast<uint16_t>(i->get());
        return Range{v, v};
    }
    const auto* s = node.as_string();
    if (s == nullptr) {
        sink.error(position_of(node), key_text(key) + "write a " + std::string(what) + " or a range such as \"" +
                                          (max == 65535 ? "1024-2047" : "100-199") + "\", not " +
                                          std::string(type_phrase(node)));
        return std::nullopt;
    }
    const std::string_view text = s->get();
    const size_t dash = text.find('-');
    const auto lo = parse_u16(text.substr(0, dash));
    const auto hi = dash == std::string_view::npos ? lo : parse_u16(text.substr(dash + 1));
    if (!lo || !hi || *lo > max || *hi > max) {
        sink.error(position_of(node), key_text(key) + quoted(text) + " is not a " + std::string(what) +
                                          " or \"lo-hi\" range" + limits);
        return std::nullopt;
    }
    if (*lo > *hi) {
        sink.error(position_of(node), key_text(key) + "range " + quoted(text) + " is reversed; write " +
                                          quoted(std::to_string(*hi) + "-" + std::to_string(*lo)));
        return std::nullopt;
    }
    return Range{*lo, *hi};
}

bool read_prefixes(const TableReader& r, std::string_view key, std::vector<Prefix>& out) {
    const bool good = for_each_value(r, key, [&](const toml::node& n) {
        const auto text = string_value(n, key, "192.0.2.0/24", r.sink());
        if (!text) return false;
        Parsed<Prefix> p = parse_prefix(*text);
        if (!p.ok()) {
            r.sink().error(position_of(n), key_text(key) + p.error);
            return false;
        }
        out.push_back(p.value);
        return true;
    });
    normalise_prefixes(out);
    return good;
}

bool read_ports(const TableReader& r, std::string_view key, std::vector<Range>& out) {
    const bool good = for_each_value(r, key, [&](const toml::node& n) {
        auto range = read_range(n, key, 65535, "port", r.sink());
        if (range) out.push_back(*range);
        return range.has_value();
    });
    normalise_ranges(out);
    return good;
}

// Families present in a prefix list: bit 0 IPv4, bit 1 IPv6.
uint8_t families(const std::vector<Prefix>& prefixes) {
    uint8_t f = 0;
    for (const Prefix& p : prefixes) f |= p.version == 4 ? 1 : 2;
    return f;
}

class RuleReader {
public:
    RuleReader(const TableReader& r, const RuleContext& context, uint32_t number)
        : r_(r), sink_(r.sink()), context_(context) {
        rule_.line = r.at().line;
        rule_.name = "rule-" + std::to_string(number);
    }

    Rule read() {
        r_.check_keys(kRuleKeys);
        if (auto n = r_.string("name")) rule_.name = std::string(*n);
        read_side();
        read_layer2();
        read_layer3();
        read_layer4();
        read_actions();
        return std::move(rule_);
    }

private:
    void read_side() {
        auto s = r_.string("side");
        if (!s) return;
        if (*s == "lan") {
            rule_.match.side = SideMatch::lan;
        } else if (*s == "wan") {
            rule_.match.side = SideMatch::wan;
        } else if (*s == "any") {
            rule_.match.side = SideMatch::any;
        } else {
            r_.error("side", "side: unknown side " + quoted(*s) +
                                 "; use \"lan\" (upload traffic), \"wan\" (download traffic) or \"any\"");
        }
    }

    void read_layer2() {
        if (const toml::node* n = r_.find("vlan")) {
            if (n->is_array()) {
                r_.error("vlan", "vlan: write one VLAN id or one range such as \"100-199\", not a list");
            } else if (auto v = read_range(*n, "vlan", 4095, "VLAN id", sink_)) {
                rule_.match.vlan = *v;
            }
        }
        if (r_.has("pcp")) {
            uint8_t mask = 0;
            const bool good = for_each_value(r_, "pcp", [&](const toml::node& n) {
                auto range = read_range(n, "pcp", 7, "PCP", sink_);
                if (range)
                    for (uint32_t p = range->lo; p <= range->hi; ++p) mask |= static_cast<uint8_t>(1u << p);
                return range.has_value();
            });
            if (good) rule_.match.pcp = mask;
        }
        if (const toml::node* n = r_.find("ethertype")) {
            if (const auto* i = n->as_integer()) {
                if (i->get() < 0x0600 || i->get() > 0xffff) {
                    r_.error("ethertype", "ethertype: " + std::to_string(i->get()) +
                                              " is not an ethertype (0x0600 to 0xffff), e.g. 0x88cc or \"lldp\"");
                } else {
                    ethertype_ = static_cast<uint16_t>(i->get());
                }
            } else if (auto s = string_value(*n, "ethertype", "arp", sink_)) {
                ethertype_ = ethertype_by_name(*s);
                if (!ethertype_)
                    r_.error("ethertype", "ethertype: unknown name " + quoted(*s) +
                                              "; use a number such as 0x88cc or ipv4, ipv6, arp, lldp, pppoe, eapol");
            }
        }
    }

    void read_layer3() {
        Match& m = rule_.match;
        if (auto v = r_.integer("ip", INT64_MIN, INT64_MAX)) {
            if (*v != 4 && *v != 6) {
                r_.error("ip", "ip: " + std::to_string(*v) + " is not an IP version; write 4 or 6");
            } else {
                m.ip_version = static_cast<uint8_t>(*v);
            }
        }
        // IP ethertypes are ip_version; other ethertypes exclude every IP field.
        if (ethertype_ == 0x0800 || ethertype_ == 0x86dd) {
            const uint8_t v = ethertype_ == 0x0800 ? 4 : 6;
            if (m.ip_version != 0 && m.ip_version != v) {
                r_.error("ip", "ip " + std::to_string(m.ip_version) + " contradicts ethertype IPv" + std::to_string(v) +
                                   "; this rule could never match");
            }
            m.ip_version = v;
        } else if (ethertype_) {
            m.ethertype = ethertype_;
        }
        const bool src_good = read_prefixes(r_, "src", m.src);
        const bool dst_good = read_prefixes(r_, "dst", m.dst);
        if (!src_good || !dst_good) return;
        const uint8_t fam = (m.src.empty() ? 3 : families(m.src)) & (m.dst.empty() ? 3 : families(m.dst));
        if (!m.src.empty() || !m.dst.empty()) {
            if (fam == 0) {
                r_.error("dst", "src and dst are of different IP versions; this rule could never match. Split it "
                                "into one rule per version");
                return;
            }
            if (m.ip_version != 0 && (fam & (m.ip_version == 4 ? 1 : 2)) == 0) {
                const std::string key = m.src.empty() ? "dst" : "src";
                r_.error(key, key + " holds no IPv" + std::to_string(m.ip_version) +
                                  " prefix, but the rule matches only IPv" + std::to_string(m.ip_version));
                return;
            }
            if (m.ip_version == 0 && fam != 3) m.ip_version = fam == 1 ? 4 : 6;
            // Prefixes of the other version can never match: drop them.
            if (m.ip_version != 0) {
                auto other = [&](const Prefix& p) { return p.version != m.ip_version; };
                std::erase_if(m.src, other);
                std::erase_if(m.dst, other);
            }
        }
    }

    void read_layer4() {
        Match& m = rule_.match;
        if (const toml::node* n = r_.find("protocol")) {
            if (const auto* i = n->as_integer()) {
                if (i->get() < 0 || i->get() > 255) {
                    r_.error("protocol", "protocol: " + std::to_string(i->get()) +
                                             " is not an IP protocol number (0 to 255)");
                } else {
                    m.protocol = static_cast<uint8_t>(i->get());
                }
            } else if (auto s = string_value(*n, "protocol", "tcp", sink_)) {
                m.protocol = protocol_by_name(*s);
                if (!m.protocol)
                    r_.error("protocol", "protocol: unknown protocol " + quoted(*s) +
                                             "; use tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or a number");
            }
        }
        if (m.protocol == 1 && m.ip_version == 6)
            r_.error("protocol", "protocol icmp is IPv4's; IPv6 uses icmpv6 (58)");
        if (m.protocol == 58 && m.ip_version == 4)
            r_.error("protocol", "protocol icmpv6 is IPv6's; IPv4 uses icmp (1)");
        read_ports(r_, "src_port", m.src_ports);
        read_ports(r_, "dst_port", m.dst_ports);
        for (std::string_view key : {"src_port", "dst_port"})
            if (r_.has(key) && m.protocol && !protocol_has_ports(*m.protocol))
                r_.error(key, std::string(key) + ": protocol " + protocol_name(*m.protocol) +
                                  " has no ports; ports apply to tcp, udp, sctp and udplite");
        if (const toml::node* n = r_.find("dscp"))
            if (auto mask = read_dscp_set(*n, "dscp", sink_)) m.dscp = *mask;
        if (auto f = r_.boolean("fragment"))
            m.fragment = *f ? FragmentMatch::fragment : FragmentMatch::not_fragment;
        if (m.ethertype) {
            for (std::string_view key : {"ip", "src", "dst", "protocol", "src_port", "dst_port", "dscp", "fragment"})
                if (r_.has(key))
                    r_.error(key, std::string(key) + " is an IP field, but ethertype " +
                                      std::to_string(*m.ethertype) + " is not IP; this rule could never match");
        }
    }

    // The class a rule names for one direction, resolved to a leaf id.
    void resolve_class(Direction d, std::string_view key, std::string_view name) {
        const ClassIndex& names = *context_.classes[index(d)];
        const std::string dir = direction_name(d);
        const auto id = names.find(name);
        if (!id) {
            std::string message = key_text(key) + quoted(name) + " is not a class in " + dir;
            if (auto near = names.suggest(name)) message += "; did you mean " + quoted(*near) + "?";
            r_.error(key, std::move(message));
            return;
        }
        if (!names.tree->classes[*id].is_leaf()) {
            r_.error(key, key_text(key) + "class " + quoted(name) + " in " + dir +
                              " has child classes; a rule must name a leaf class, which holds a queue");
            return;
        }
        rule_.action.class_id[index(d)] = *id;
    }

    void read_actions() {
        const SideMatch side = rule_.match.side;
        // A packet that entered on the LAN travels upload, one from the WAN download.
        const bool upload_seen = side != SideMatch::wan;
        const bool download_seen = side != SideMatch::lan;
        if (auto both = r_.string("class")) {
            for (std::string_view key : {"upload_class", "download_class"})
                if (r_.has(key))
                    r_.error(key, std::string(key) + " and class both name a class; use class for both directions or "
                                                     "upload_class/download_class for each");
            if (upload_seen) resolve_class(Direction::upload, "class", *both);
            if (download_seen) resolve_class(Direction::download, "class", *both);
        }
        if (auto up = r_.string("upload_class")) {
            if (!upload_seen) {
                sink_.warning(r_.at("upload_class"), "upload_class has no effect: a rule for side = \"wan\" sees "
                                                     "only download traffic");
            } else if (!r_.has("class")) {
                resolve_class(Direction::upload, "upload_class", *up);
            }
        }
        if (auto down = r_.string("download_class")) {
            if (!download_seen) {
                sink_.warning(r_.at("download_class"), "download_class has no effect: a rule for side = \"lan\" sees "
                                                       "only upload traffic");
            } else if (!r_.has("class")) {
                resolve_class(Direction::download, "download_class", *down);
            }
        }
        if (const toml::node* n = r_.find("set_dscp")) rule_.action.set_dscp = read_dscp(*n, "set_dscp", sink_);
        if (auto name = r_.string("meter")) {
            const auto it = context_.meters->find(*name);
            if (it == context_.meters->end()) {
                std::vector<std::string_view> names;
                for (const auto& [k, v] : *context_.meters) names.push_back(k);
                std::sort(names.begin(), names.end());
                std::string message = "meter: " + quoted(*name) + " is not a meter";
                if (auto near = nearest(*name, names)) message += "; did you mean " + quoted(*near) + "?";
                else message += names.empty() ? "; define it in a [[meter]] table" : "";
                r_.error("meter", std::move(message));
            } else {
                rule_.action.meter = it->second;
            }
        }
        if (!r_.has("class") && !r_.has("upload_class") && !r_.has("download_class") && !r_.has("set_dscp") &&
            !r_.has("meter"))
            sink_.warning(r_.at(), "rule " + quoted(rule_.name) + " has no action; the packets it matches go to "
                                   "the default classes and no later rule sees them");
    }

    const TableReader& r_;
    DiagnosticSink& sink_;
    const RuleContext& context_;
    Rule rule_;
    std::optional<uint16_t> ethertype_;
};

}  // namespace

void normalise_ranges(std::vector<Range>& ranges) {
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
    std::vector<Range> merged;
    for (const Range& r : ranges) {
        if (!merged.empty() && uint32_t{r.lo} <= uint32_t{merged.back().hi} + 1) {
            merged.back().hi = std::max(merged.back().hi, r.hi);
        } else {
            merged.push_back(r);
        }
    }
    ranges = std::move(merged);
}

void read_rules(const toml::node* node, const RuleContext& context, std::vector<Rule>& rules,
                std::vector<Position>& positions, DiagnosticSink& sink) {
    if (node == nullptr) return;
    const auto* array = node->as_array();
    if (array == nullptr) {
        sink.error(position_of(*node), "rule must be an array of tables: write each rule as [[rule]]");
        return;
    }
    rules.reserve(array->size());
    positions.reserve(array->size());
    std::unordered_map<std::string, uint32_t> names;
    names.reserve(array->size());
    for (const toml::node& element : *array) {
        const auto* t = element.as_table();
        if (t == nullptr) {
            sink.error(position_of(element), "each rule must be a table, not " + std::string(type_phrase(element)));
            continue;
        }
        TableReader r(*t, "[[rule]]", sink);
        Rule rule = RuleReader(r, context, static_cast<uint32_t>(rules.size() + 1)).read();
        const auto [it, fresh] = names.emplace(rule.name, rule.line);
        if (!fresh)
            sink.error(r.at("name"), "rule " + quoted(rule.name) + " is already defined at line " +
                                         std::to_string(it->second) + "; rule names must be unique");
        positions.push_back(r.at());
        rules.push_back(std::move(rule));
    }
}

}  // namespace sluice::policy
