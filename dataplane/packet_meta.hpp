// Per-packet metadata: the one parse of a frame's headers that every later
// stage (classifier, policer, shaper) reads instead of touching the headers.
//
// It is a single 64-byte cache line so that a burst of it sits in L1 next to
// the burst of mbuf pointers it describes.
#pragma once

#include <cstdint>

namespace sluice::dataplane {

enum class L3Kind : uint8_t { none = 0, ipv4 = 4, ipv6 = 6 };

// Why a frame could not be parsed. Every value except `none` is a malformed
// frame; the dataplane drops it and counts it under this name, never guesses.
enum class ParseError : uint8_t {
    none = 0,
    truncated_ethernet,             // shorter than an Ethernet header or a VLAN tag
    truncated_ip_header,            // the fixed IPv4/IPv6 header is cut short
    bad_ip_version,                 // version field disagrees with the ethertype
    bad_ipv4_header_length,         // IHL below 5 or larger than the total length
    bad_ip_total_length,            // declared length shorter than the header or longer than the frame
    truncated_ipv6_extension,       // an extension header runs past the packet
    ipv6_extension_chain_too_long,  // more extension headers than we are willing to walk
    truncated_l4_header,            // TCP/UDP/SCTP/ICMP header cut short (tiny fragments too)
    bad_tcp_header_length,          // TCP data offset below 5 or past the packet
    count_
};

inline constexpr unsigned kParseErrorCount = static_cast<unsigned>(ParseError::count_);

// Stable names used in logs, counters and metrics.
constexpr const char* parse_error_name(ParseError e) {
    switch (e) {
    case ParseError::none: return "none";
    case ParseError::truncated_ethernet: return "truncated_ethernet";
    case ParseError::truncated_ip_header: return "truncated_ip_header";
    case ParseError::bad_ip_version: return "bad_ip_version";
    case ParseError::bad_ipv4_header_length: return "bad_ipv4_header_length";
    case ParseError::bad_ip_total_length: return "bad_ip_total_length";
    case ParseError::truncated_ipv6_extension: return "truncated_ipv6_extension";
    case ParseError::ipv6_extension_chain_too_long: return "ipv6_extension_chain_too_long";
    case ParseError::truncated_l4_header: return "truncated_l4_header";
    case ParseError::bad_tcp_header_length: return "bad_tcp_header_length";
    case ParseError::count_: break;
    }
    return "unknown";
}

namespace meta_flag {
inline constexpr uint8_t has_ports = 1u << 0;       // src_port/dst_port are TCP/UDP/SCTP ports
inline constexpr uint8_t fragment = 1u << 1;        // part of a fragmented IP datagram
inline constexpr uint8_t later_fragment = 1u << 2;  // fragment with a non-zero offset: no L4 header
inline constexpr uint8_t ipv4_options = 1u << 3;    // IPv4 header longer than 20 bytes
inline constexpr uint8_t ipv6_extensions = 1u << 4; // at least one IPv6 extension header walked
inline constexpr uint8_t has_icmp = 1u << 5;        // src_port/dst_port hold ICMP type/code
}  // namespace meta_flag

inline constexpr unsigned kMaxVlanTags = 2;          // 802.1Q, and QinQ (802.1ad outer)
inline constexpr unsigned kMaxIpv6ExtensionHeaders = 8;

struct alignas(64) PacketMeta {
    // Addresses in network byte order; IPv4 uses the first four bytes.
    uint8_t src_addr[16];
    uint8_t dst_addr[16];

    uint32_t frame_len;      // whole frame in bytes, as received (without FCS)
    uint16_t l3_offset;      // start of the IP header from the frame start
    uint16_t l4_offset;      // start of the L4 header; 0 when there is none
    uint16_t l3_len;         // IP datagram length as declared (header + payload)
    uint16_t ethertype;      // the ethertype after any VLAN tags, host order
    uint16_t vlan_tci[kMaxVlanTags];  // outer first, host order (PCP:3, DEI:1, VID:12)
    uint16_t src_port;       // host order; ICMP type when has_icmp
    uint16_t dst_port;       // host order; ICMP code when has_icmp
    uint8_t vlan_count;
    L3Kind l3;
    uint8_t l4_proto;        // IP protocol, or the IPv6 upper-layer header after extensions
    uint8_t tos;             // IPv4 TOS / IPv6 traffic class: DSCP (6 bits) and ECN (2 bits)
    uint8_t flags;           // meta_flag bits
    ParseError error;

    constexpr uint8_t dscp() const { return static_cast<uint8_t>(tos >> 2); }
    constexpr uint8_t ecn() const { return static_cast<uint8_t>(tos & 0x3); }
    constexpr bool is_ip() const { return l3 != L3Kind::none; }
    constexpr bool malformed() const { return error != ParseError::none; }
    constexpr bool has(uint8_t flag) const { return (flags & flag) != 0; }
    constexpr uint16_t vlan_id(unsigned i) const { return static_cast<uint16_t>(vlan_tci[i] & 0x0fff); }
    constexpr uint8_t vlan_pcp(unsigned i) const { return static_cast<uint8_t>(vlan_tci[i] >> 13); }
};

static_assert(sizeof(PacketMeta) == 64, "PacketMeta must stay one cache line");

}  // namespace sluice::dataplane
