// O(1) classification for rule sets that match on DSCP, protocol and one
// port field (as "udp dport 5060 -> voice" or "dscp EF -> voice" do).
//
// Ports are first mapped to segments: the boundaries of every rule's port
// ranges cut 0-65535 into at most 2R+1 pieces, inside which all ports behave
// the same for every rule. A cell per (segment, protocol slot, DSCP) then
// holds the first rule that matches there. Rules on destination ports live in
// one table, rules on source ports in another, rules on neither in both; the
// answer is the smaller rule index of the two lookups. Three loads and a min
// per packet, whatever the number of rules.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "classifier/rule_spec.hpp"
#include "dataplane/packet_meta.hpp"

namespace sluice::classifier {

class PortDscpTable {
public:
    // Above this many rules the tables outgrow the cache; rte_acl takes over.
    static constexpr size_t kMaxRules = 256;

    // Whether `r` can be expressed here.
    static bool eligible(const RuleSpec& r);

    // `rules` are all eligible and at most kMaxRules; only those that apply
    // to `side` are entered.
    PortDscpTable(const std::vector<RuleSpec>& rules, Side side);

    uint32_t lookup(const dataplane::PacketMeta& m) const {
        if (!m.is_ip() || m.malformed()) return kNoRule;
        const bool ports = m.has(dataplane::meta_flag::has_ports);
        const unsigned slot = proto_slot_[m.l4_proto];
        const uint16_t d = dst_.cell(ports ? dst_.seg[m.dst_port] : dst_.no_port_seg, slot, m.dscp());
        const uint16_t s = src_.cell(ports ? src_.seg[m.src_port] : src_.no_port_seg, slot, m.dscp());
        const uint16_t r = d < s ? d : s;
        return r == kEmpty ? kNoRule : r;
    }

    size_t memory_bytes() const;

private:
    static constexpr uint16_t kEmpty = 0xffff;
    static constexpr unsigned kSlots = 6;  // TCP, UDP, SCTP, ICMP, ICMPv6, anything else

    struct PortTable {
        std::vector<uint16_t> seg;     // port -> segment, 65536 entries
        uint16_t no_port_seg = 0;      // the segment of packets without ports
        std::vector<uint16_t> cells;   // [segment][slot][dscp]
        uint16_t cell(uint16_t s, unsigned slot, unsigned dscp) const {
            return cells[(static_cast<size_t>(s) * kSlots + slot) * 64 + dscp];
        }
    };

    static void build(PortTable& t, const std::vector<RuleSpec>& rules, Side side, bool dst);

    std::array<uint8_t, 256> proto_slot_{};
    PortTable dst_, src_;
};

}  // namespace sluice::classifier
