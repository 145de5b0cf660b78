// A classification rule as the classifier compiles it: every match field in
// normalised form (prefixes, inclusive ranges, sets as bit masks). An empty
// list or a full mask means "any". The policy loader produces these from the
// policy file; tests write them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace sluice::classifier {

// Which port a packet entered by. A rule for `lan` sees only upload traffic.
enum class Side : uint8_t { lan = 0, wan = 1 };
enum class SideMatch : uint8_t { any, lan, wan };

struct Prefix {
    uint8_t version = 4;     // 4 or 6
    uint8_t addr[16] = {};   // network order; IPv4 in the first four bytes
    uint8_t length = 0;      // prefix length in bits
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
};

enum class FragmentMatch : uint8_t { any, fragment, not_fragment };

inline constexpr uint64_t kAnyDscp = ~0ull;

struct RuleSpec {
    SideMatch side = SideMatch::any;
    uint8_t ip_version = 0;                 // 0 = both
    std::vector<Prefix> src, dst;           // any of them; empty = any address
    std::optional<uint8_t> protocol;        // IP protocol / IPv6 upper-layer header
    std::vector<PortRange> src_ports, dst_ports;  // any of them; empty = any (and no ports needed)
    uint64_t dscp = kAnyDscp;               // bit d set: DSCP d matches
    std::optional<PortRange> vlan;          // outer VLAN id range; set = the frame must be tagged
    uint8_t pcp = 0xff;                     // bit p set: outer-tag PCP p matches (tagged frames)
    FragmentMatch fragment = FragmentMatch::any;

    bool asks_for_ports() const { return !src_ports.empty() || !dst_ports.empty(); }
    // Only side and DSCP: such rules compile to a 64-entry table.
    bool dscp_only() const {
        return ip_version == 0 && src.empty() && dst.empty() && !protocol && !asks_for_ports() &&
               !vlan && pcp == 0xff && fragment == FragmentMatch::any;
    }
};

// What classification returns for a packet that no rule matches.
inline constexpr uint32_t kNoRule = UINT32_MAX;

}  // namespace sluice::classifier
