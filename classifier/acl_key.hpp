// The per-packet search keys that rte_acl walks, built from PacketMeta.
//
// rte_acl reads a key as one leading byte followed by groups of four bytes;
// multi-byte fields are read in network byte order (rule values are given in
// host order). One layout per IP family; both start the same way.
#pragma once

#include <cstdint>
#include <cstring>

#include "dataplane/packet_meta.hpp"

namespace sluice::classifier {

namespace key_flag {
inline constexpr uint8_t has_ports = 1u << 0;
inline constexpr uint8_t fragment = 1u << 1;
}  // namespace key_flag

// VLAN field value of an untagged frame: outside the 12-bit VID space.
inline constexpr uint16_t kUntagged = 0x1000;
// PCP field value of an untagged frame: outside 0-7.
inline constexpr uint8_t kNoPcp = 8;

struct AclKeyHead {
    uint8_t proto;     // input 0: the single leading byte
    uint8_t pad[3];
    uint8_t dscp;      // input 1
    uint8_t flags;
    uint8_t pcp;
    uint8_t zero;
};

struct AclKey4 {
    AclKeyHead head;
    uint8_t src[4];    // input 2
    uint8_t dst[4];    // input 3
    uint16_t sport;    // input 4, network order
    uint16_t dport;
    uint16_t vlan;     // input 5, network order
    uint16_t zero;
};

struct AclKey6 {
    AclKeyHead head;
    uint8_t src[16];   // inputs 2-5
    uint8_t dst[16];   // inputs 6-9
    uint16_t sport;    // input 10
    uint16_t dport;
    uint16_t vlan;     // input 11
    uint16_t zero;
};

inline void fill_head(AclKeyHead& h, const dataplane::PacketMeta& m) {
    h = {};
    h.proto = m.l4_proto;
    h.dscp = m.dscp();
    h.flags = static_cast<uint8_t>((m.has(dataplane::meta_flag::has_ports) ? key_flag::has_ports : 0) |
                                   (m.has(dataplane::meta_flag::fragment) ? key_flag::fragment : 0));
    h.pcp = m.vlan_count ? m.vlan_pcp(0) : kNoPcp;
}

inline uint16_t to_network(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }

template <typename Key, unsigned AddrLen>
inline void fill_key(Key& k, const dataplane::PacketMeta& m) {
    fill_head(k.head, m);
    std::memcpy(k.src, m.src_addr, AddrLen);
    std::memcpy(k.dst, m.dst_addr, AddrLen);
    // Ports only when the packet has them: a later fragment's or an ICMP
    // message's would-be ports must not satisfy a port rule by accident.
    const bool ports = m.has(dataplane::meta_flag::has_ports);
    k.sport = ports ? to_network(m.src_port) : 0;
    k.dport = ports ? to_network(m.dst_port) : 0;
    k.vlan = to_network(m.vlan_count ? m.vlan_id(0) : kUntagged);
    k.zero = 0;
}

}  // namespace sluice::classifier
