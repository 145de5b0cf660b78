// Builds Ethernet frames byte by byte for tests: VLAN tags, IPv4 (with
// options and fragments), IPv6 (with extension headers), TCP/UDP/SCTP/ICMP.
// Checksums are computed, so the frames are valid on a wire and in a pcap.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace sluice::test {

using Bytes = std::vector<uint8_t>;

struct Ipv4Spec {
    uint8_t src[4] = {192, 0, 2, 1};
    uint8_t dst[4] = {198, 51, 100, 2};
    uint8_t tos = 0;
    uint8_t ttl = 64;
    uint8_t protocol = 17;
    uint16_t id = 1;
    bool more_fragments = false;
    uint16_t fragment_offset_units = 0;  // in 8-byte units
    Bytes options;                       // padded to a multiple of 4
};

struct Ipv6Spec {
    uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    uint8_t traffic_class = 0;
    uint8_t hop_limit = 64;
    uint8_t next_header = 17;
    uint32_t flow_label = 0;
};

// L4 headers; checksums are filled by the frame helpers below.
Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {});
Bytes tcp(uint16_t sport, uint16_t dport, const Bytes& payload = {}, uint8_t flags = 0x02);
Bytes sctp(uint16_t sport, uint16_t dport);
Bytes icmp_echo(uint8_t type, uint16_t id, uint16_t seq, const Bytes& payload = {});

// An IPv6 extension header: next header, then `body` padded to 8-byte units.
Bytes ipv6_ext(uint8_t next_header, const Bytes& body = {});
Bytes ipv6_fragment_ext(uint8_t next_header, uint16_t offset_units, bool more, uint32_t id);

// Whole IP datagrams with checksums (L4 checksums over the pseudo-header).
Bytes ipv4_datagram(const Ipv4Spec& ip, const Bytes& l4);
Bytes ipv6_datagram(const Ipv6Spec& ip, const Bytes& ext_and_l4, uint8_t upper_proto,
                    size_t l4_offset_in_payload);

// Ethernet framing with any number of VLAN tags (outer first: {tpid, tci}).
struct VlanTag {
    uint16_t tpid;
    uint16_t tci;
};
Bytes ethernet(uint16_t ethertype, const Bytes& payload, std::initializer_list<VlanTag> tags = {});

Bytes arp_request();

// The whole frame at once for the common cases.
Bytes udp4_frame(uint16_t sport, uint16_t dport, uint8_t tos = 0, std::initializer_list<VlanTag> tags = {});
Bytes tcp4_frame(uint16_t sport, uint16_t dport, uint8_t tos = 0);
Bytes udp6_frame(uint16_t sport, uint16_t dport, uint8_t tclass = 0);

}  // namespace sluice::test
