#include "control/policy/shadowing.hpp"

#include <algorithm>
#include <unordered_map>

namespace sluice::policy {

namespace {

bool prefixes_cover(const std::vector<Prefix>& earlier, const std::vector<Prefix>& later) {
    if (earlier.empty()) return true;
    if (later.empty()) return false;  // later accepts any address
    for (const Prefix& p : later) {
        bool inside = false;
        for (const Prefix& e : earlier) {
            if (e.contains(p)) {
                inside = true;
                break;
            }
        }
        if (!inside) return false;
    }
    return true;
}

// Both lists are merged and sorted, so containment in the union is
// containment in one range.
bool ranges_cover(const std::vector<Range>& earlier, const std::vector<Range>& later) {
    if (earlier.empty()) return true;
    if (later.empty()) return false;
    size_t e = 0;
    for (const Range& r : later) {
        while (e < earlier.size() && earlier[e].hi < r.lo) ++e;
        if (e == earlier.size() || earlier[e].lo > r.lo || earlier[e].hi < r.hi) return false;
    }
    return true;
}

// Index key: (field, version, length, address). Hashing the 16 bytes with
// the length makes ancestor lookups one probe per length in use.
struct PrefixKey {
    uint8_t field;  // 0 dst, 1 src
    Prefix prefix;
    friend bool operator==(const PrefixKey&, const PrefixKey&) = default;
};

struct PrefixKeyHash {
    size_t operator()(const PrefixKey& k) const {
        uint64_t h = 1469598103934665603ull ^ (uint64_t{k.field} << 16 | uint64_t{k.prefix.version} << 8 | k.prefix.length);
        for (uint8_t b : k.prefix.addr) h = (h ^ b) * 1099511628211ull;
        return static_cast<size_t>(h);
    }
};

Prefix truncated(const Prefix& p, uint8_t length) {
    Prefix out = p;
    out.length = length;
    for (uint32_t bit = length; bit < 128; ++bit) out.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return out;
}

class CoverIndex {
public:
    void add(uint32_t rule, const Match& m) {
        const uint8_t field = m.dst.empty() ? 1 : 0;
        const std::vector<Prefix>& list = field == 0 ? m.dst : m.src;
        if (list.empty()) {
            general_.push_back(rule);
            return;
        }
        for (const Prefix& p : list) {
            filed_[PrefixKey{field, p}].push_back(rule);
            lengths_[field][p.version == 4 ? 0 : 1][p.length] = true;
        }
    }

    // Rules that might cover `m`, in no particular order.
    template <typename Visit>
    void candidates(const Match& m, Visit&& visit) const {
        for (uint8_t field = 0; field < 2; ++field) {
            const std::vector<Prefix>& list = field == 0 ? m.dst : m.src;
            if (list.empty()) continue;
            const Prefix& first = list.front();
            const auto& lengths = lengths_[field][first.version == 4 ? 0 : 1];
            for (uint32_t len = 0; len <= first.length; ++len) {
                if (!lengths[len]) continue;
                const auto it = filed_.find(PrefixKey{field, truncated(first, static_cast<uint8_t>(len))});
                if (it == filed_.end()) continue;
                for (uint32_t rule : it->second) visit(rule);
            }
        }
        for (uint32_t rule : general_) visit(rule);
    }

private:
    std::unordered_map<PrefixKey, std::vector<uint32_t>, PrefixKeyHash> filed_;
    bool lengths_[2][2][129] = {};  // [field][family][length]: some rule is filed there
    std::vector<uint32_t> general_;
};

}  // namespace

bool covers(const Match& e, const Match& l) {
    if (e.side != SideMatch::any && e.side != l.side) return false;
    if (e.ip_version != 0 && e.ip_version != l.ip_version) return false;
    if (e.ethertype && e.ethertype != l.ethertype) return false;
    if (e.vlan && (!l.vlan || l.vlan->lo < e.vlan->lo || l.vlan->hi > e.vlan->hi)) return false;
    if ((l.pcp & ~e.pcp) != 0) return false;
    if ((l.dscp & ~e.dscp) != 0) return false;
    if (e.protocol && e.protocol != l.protocol) return false;
    if (e.fragment != FragmentMatch::any && e.fragment != l.fragment) return false;
    return ranges_cover(e.src_ports, l.src_ports) && ranges_cover(e.dst_ports, l.dst_ports) &&
           prefixes_cover(e.src, l.src) && prefixes_cover(e.dst, l.dst);
}

void warn_shadowed_rules(const std::vector<Rule>& rules, const std::vector<Position>& positions,
                         DiagnosticSink& sink) {
    CoverIndex index;
    uint64_t comparisons = 0;
    for (uint32_t j = 0; j < rules.size(); ++j) {
        uint32_t coverer = UINT32_MAX;
        index.candidates(rules[j].match, [&](uint32_t i) {
            if (i >= coverer) return;  // report the first rule that covers j
            ++comparisons;
            if (covers(rules[i].match, rules[j].match)) coverer = i;
        });
        if (coverer != UINT32_MAX) {
            sink.warning(positions[j], "rule \"" + rules[j].name + "\" can never match: rule \"" + rules[coverer].name +
                                           "\" at line " + std::to_string(rules[coverer].line) +
                                           " matches every packet it would; move it above that rule or remove it");
        }
        if (comparisons > kShadowComparisonBudget) {
            sink.warning(positions[j], "stopped looking for rules that can never match after " +
                                           std::to_string(comparisons) + " comparisons; rules after \"" +
                                           rules[j].name + "\" were not checked");
            return;
        }
        index.add(j, rules[j].match);
    }
}

}  // namespace sluice::policy
