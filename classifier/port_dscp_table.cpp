#include "classifier/port_dscp_table.hpp"

#include <algorithm>

namespace sluice::classifier {
namespace {

constexpr uint8_t kSlotProtocols[] = {6, 17, 132, 1, 58};
constexpr unsigned kOtherSlot = 5;

int slot_of(uint8_t proto) {
    for (unsigned i = 0; i < std::size(kSlotProtocols); ++i) {
        if (kSlotProtocols[i] == proto) return static_cast<int>(i);
    }
    return -1;
}

bool applies(const RuleSpec& r, Side side) {
    return r.side == SideMatch::any || (r.side == SideMatch::lan) == (side == Side::lan);
}

}  // namespace

bool PortDscpTable::eligible(const RuleSpec& r) {
    return r.ip_version == 0 && r.src.empty() && r.dst.empty() && !r.vlan && r.pcp == 0xff &&
           r.fragment == FragmentMatch::any && !(r.src_ports.size() && r.dst_ports.size()) &&
           (!r.protocol || slot_of(*r.protocol) >= 0);
}

PortDscpTable::PortDscpTable(const std::vector<RuleSpec>& rules, Side side) {
    proto_slot_.fill(kOtherSlot);
    for (unsigned i = 0; i < std::size(kSlotProtocols); ++i) proto_slot_[kSlotProtocols[i]] = static_cast<uint8_t>(i);
    build(dst_, rules, side, true);
    build(src_, rules, side, false);
}

void PortDscpTable::build(PortTable& t, const std::vector<RuleSpec>& rules, Side side, bool dst) {
    // Segment boundaries: every range start and every port after a range end.
    std::vector<uint32_t> cuts{0};
    for (const auto& r : rules) {
        for (const auto& p : dst ? r.dst_ports : r.src_ports) {
            cuts.push_back(p.lo);
            cuts.push_back(static_cast<uint32_t>(p.hi) + 1);
        }
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    if (cuts.back() == 65536) cuts.pop_back();
    const auto segments = static_cast<uint16_t>(cuts.size());
    t.seg.assign(65536, 0);
    for (uint16_t s = 0; s < segments; ++s) {
        const uint32_t end = s + 1u < segments ? cuts[s + 1u] : 65536;
        std::fill(t.seg.begin() + cuts[s], t.seg.begin() + end, s);
    }
    t.no_port_seg = segments;
    t.cells.assign((static_cast<size_t>(segments) + 1) * kSlots * 64, kEmpty);

    // Later rules first, so that earlier ones overwrite them: first match wins.
    for (size_t i = rules.size(); i-- > 0;) {
        const RuleSpec& r = rules[i];
        if (!applies(r, side)) continue;
        const auto& own = dst ? r.dst_ports : r.src_ports;
        const auto& other = dst ? r.src_ports : r.dst_ports;
        if (!other.empty()) continue;  // decided by the other table
        auto fill_segment = [&](uint16_t s) {
            for (unsigned slot = 0; slot < kSlots; ++slot) {
                if (r.protocol && static_cast<unsigned>(slot_of(*r.protocol)) != slot) continue;
                uint16_t* row = &t.cells[(static_cast<size_t>(s) * kSlots + slot) * 64];
                for (unsigned d = 0; d < 64; ++d) {
                    if ((r.dscp >> d) & 1) row[d] = static_cast<uint16_t>(i);
                }
            }
        };
        if (own.empty()) {
            for (uint16_t s = 0; s <= segments; ++s) fill_segment(s);  // any port, or none
        } else {
            for (const auto& p : own) {
                for (uint16_t s = t.seg[p.lo]; s <= t.seg[p.hi]; ++s) fill_segment(s);
            }
        }
    }
}

size_t PortDscpTable::memory_bytes() const {
    return sizeof(*this) + (dst_.seg.size() + dst_.cells.size() + src_.seg.size() + src_.cells.size()) * 2;
}

}  // namespace sluice::classifier
