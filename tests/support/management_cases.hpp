// One table of frames and the verdict the gateway's own-traffic filter must
// give them: to the kernel, or to the data plane. Both enforcers run it:
// the XDP program on af_xdp ports (tests/bpf/management_test.cpp, through
// BPF_PROG_TEST_RUN) and the DPDK exception path's matcher
// (tests/unit/management_match_test.cpp), so they are shown to agree frame
// for frame. A case names the filter it runs under.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/management_filter.hpp"
#include "tests/support/frame_builder.hpp"

namespace sluice::test::management {

using dataplane::ManagementFilter;

inline ManagementFilter::Prefix v4(const char* text, unsigned length) {
    ManagementFilter::Prefix p;
    p.addr[10] = p.addr[11] = 0xff;
    if (inet_pton(AF_INET, text, &p.addr[12]) != 1) throw std::invalid_argument(text);
    p.length = static_cast<uint8_t>(96 + length);
    return p;
}

inline ManagementFilter::Prefix v6(const char* text, unsigned length) {
    ManagementFilter::Prefix p;
    if (inet_pton(AF_INET6, text, p.addr.data()) != 1) throw std::invalid_argument(text);
    p.length = static_cast<uint8_t>(length);
    return p;
}

// The gateway's own addresses in every filter with addresses: one IPv4
// address, an IPv4 prefix, one IPv6 address.
inline std::vector<ManagementFilter::Prefix> own_addresses() {
    return {v4("198.51.100.2", 32), v4("203.0.113.0", 24), v6("2001:db8::2", 128)};
}

struct NamedFilter {
    const char* name;
    ManagementFilter filter;
};

enum FilterId : unsigned { addresses_only, with_services, with_ethertype, ethertype_only, filter_count };

inline std::vector<NamedFilter> filters() {
    std::vector<NamedFilter> f(filter_count);
    f[addresses_only] = {"own addresses, every service", {own_addresses(), {}, {}}};
    // ssh, snmp (a range), every ICMP (port 0..0), Diameter over SCTP.
    f[with_services] = {"own addresses, listed services",
                        {own_addresses(), {{6, 22, 22}, {17, 161, 162}, {1, 0, 0}, {132, 3868, 3868}}, {}}};
    f[with_ethertype] = {"own addresses and LLDP", {own_addresses(), {}, {0x88cc}}};
    f[ethertype_only] = {"LLDP only", {{}, {}, {0x88cc}}};
    return f;
}

// Frames ------------------------------------------------------------------

using Addr4 = std::array<uint8_t, 4>;
inline constexpr Addr4 kOwn{198, 51, 100, 2};
inline constexpr Addr4 kOther{198, 51, 100, 9};
inline constexpr Addr4 kInPrefix{203, 0, 113, 77};
inline constexpr Addr4 kPastPrefix{203, 0, 114, 77};

inline Bytes ip4_to(Addr4 dst, uint8_t protocol, const Bytes& l4, std::initializer_list<VlanTag> tags = {}) {
    Ipv4Spec ip;
    std::memcpy(ip.dst, dst.data(), 4);
    ip.protocol = protocol;
    return ethernet(0x0800, ipv4_datagram(ip, l4), tags);
}
inline Bytes udp4_to(Addr4 dst, uint16_t port, std::initializer_list<VlanTag> tags = {}) {
    return ip4_to(dst, 17, udp(40000, port, Bytes(8, 0xab)), tags);
}
inline Bytes tcp4_to(Addr4 dst, uint16_t port) { return ip4_to(dst, 6, tcp(40000, port)); }
inline Bytes icmp4_to(Addr4 dst) { return ip4_to(dst, 1, icmp_echo(8, 1, 1)); }
inline Bytes sctp4_to(Addr4 dst, uint16_t port) { return ip4_to(dst, 132, sctp(40000, port)); }

// An IPv4 fragment after the first: no L4 header, only its protocol.
inline Bytes later_fragment4(Addr4 dst, uint8_t protocol) {
    Ipv4Spec ip;
    std::memcpy(ip.dst, dst.data(), 4);
    ip.protocol = protocol;
    ip.fragment_offset_units = 100;
    return ethernet(0x0800, ipv4_datagram(ip, Bytes(64, 0x5b)));
}

// ARP for IPv4 over Ethernet asking for `target`, or the same with another
// protocol type.
inline Bytes arp_for(Addr4 target, uint16_t protocol_type = 0x0800) {
    Bytes a = {0, 1, static_cast<uint8_t>(protocol_type >> 8), static_cast<uint8_t>(protocol_type), 6, 4, 0, 1};
    for (uint8_t v : {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 198, 51, 100, 1}) a.push_back(v);
    for (uint8_t v : {0, 0, 0, 0, 0, 0}) a.push_back(v);
    a.insert(a.end(), target.begin(), target.end());
    return ethernet(0x0806, a);
}

inline Ipv6Spec ip6_to(const char* dst, uint8_t next_header) {
    Ipv6Spec ip;
    if (inet_pton(AF_INET6, dst, ip.dst) != 1) throw std::invalid_argument(dst);
    ip.next_header = next_header;
    return ip;
}
inline Bytes udp6_to(const char* dst, uint16_t port) {
    return ethernet(0x86dd, ipv6_datagram(ip6_to(dst, 17), udp(40000, port, Bytes(8, 0xcd)), 17, 0));
}
inline Bytes icmp6_echo_to(const char* dst) {
    return ethernet(0x86dd, ipv6_datagram(ip6_to(dst, 58), icmp_echo(128, 1, 1), 58, 0));
}
// UDP behind a hop-by-hop options header.
inline Bytes udp6_hop_by_hop_to(const char* dst, uint16_t port) {
    Bytes payload = ipv6_ext(17, Bytes(6, 0));
    const Bytes u = udp(40000, port, Bytes(8, 0xcd));
    payload.insert(payload.end(), u.begin(), u.end());
    return ethernet(0x86dd, ipv6_datagram(ip6_to(dst, 0), payload, 17, 8));
}
// A neighbour solicitation (135) or advertisement (136) about `target`; a
// solicitation goes to the target's solicited-node multicast address.
inline Bytes neighbour(uint8_t type, const char* target) {
    Ipv6Spec ip = ip6_to(type == 135 ? "ff02::1:ff00:2" : "2001:db8::1", 58);
    ip.hop_limit = 255;
    Bytes icmp = {type, 0, 0, 0, type == 136 ? uint8_t{0x60} : uint8_t{0}, 0, 0, 0};
    uint8_t t[16];
    if (inet_pton(AF_INET6, target, t) != 1) throw std::invalid_argument(target);
    icmp.insert(icmp.end(), t, t + 16);
    return ethernet(0x86dd, ipv6_datagram(ip, icmp, 58, 0));
}
inline Bytes lldp(std::initializer_list<VlanTag> tags = {}) { return ethernet(0x88cc, Bytes(46, 0x11), tags); }

inline Bytes cut(Bytes frame, size_t n) {
    frame.resize(n);
    return frame;
}

// Cases -------------------------------------------------------------------

struct Case {
    std::string name;
    FilterId filter;
    Bytes frame;
    bool to_kernel;
};

inline std::vector<Case> cases() {
    constexpr VlanTag dot1q{0x8100, 7}, outer{0x88a8, 100}, old_outer{0x9100, 100};
    return {
        // Own addresses, every service.
        {"UDP to an own IPv4 address", addresses_only, udp4_to(kOwn, 161), true},
        {"TCP to an own IPv4 address", addresses_only, tcp4_to(kOwn, 22), true},
        {"ICMP echo to an own IPv4 address", addresses_only, icmp4_to(kOwn), true},
        {"SCTP to an own IPv4 address", addresses_only, sctp4_to(kOwn, 3868), true},
        {"an IPv4 fragment after the first to an own address", addresses_only, later_fragment4(kOwn, 17), true},
        {"UDP to an own IPv6 address", addresses_only, udp6_to("2001:db8::2", 53), true},
        {"ICMPv6 echo to an own IPv6 address", addresses_only, icmp6_echo_to("2001:db8::2"), true},
        {"IPv6 with a hop-by-hop header to an own address", addresses_only, udp6_hop_by_hop_to("2001:db8::2", 53), true},
        {"UDP to an address inside an own prefix", addresses_only, udp4_to(kInPrefix, 161), true},
        {"UDP to an address just past an own prefix", addresses_only, udp4_to(kPastPrefix, 161), false},
        {"UDP to another IPv4 address", addresses_only, udp4_to(kOther, 161), false},
        {"TCP to another IPv4 address", addresses_only, tcp4_to(kOther, 22), false},
        {"UDP to another IPv6 address", addresses_only, udp6_to("2001:db8::7", 53), false},
        {"UDP to an own address in an 802.1Q tag", addresses_only, udp4_to(kOwn, 161, {dot1q}), true},
        {"UDP to an own address through QinQ", addresses_only, udp4_to(kOwn, 161, {outer, dot1q}), true},
        {"UDP to another address through QinQ", addresses_only, udp4_to(kOther, 161, {outer, dot1q}), false},
        {"UDP to an own address behind a 0x9100 tag (not peeled)", addresses_only,
         udp4_to(kOwn, 161, {old_outer, dot1q}), false},
        {"ARP asking for an own address", addresses_only, arp_for(kOwn), true},
        {"ARP asking for an address in an own prefix", addresses_only, arp_for(kInPrefix), true},
        {"ARP asking for another address", addresses_only, arp_for(kOther), false},
        {"ARP for an own address with another protocol type", addresses_only, arp_for(kOwn, 0x86dd), false},
        {"the frame builder's ARP request (for 198.51.100.2)", addresses_only, arp_request(), true},
        {"neighbour solicitation for an own address", addresses_only, neighbour(135, "2001:db8::2"), true},
        {"neighbour advertisement about an own address", addresses_only, neighbour(136, "2001:db8::2"), true},
        {"neighbour solicitation for another address", addresses_only, neighbour(135, "2001:db8::7"), false},
        {"LLDP when no ethertype is listed", addresses_only, lldp(), false},
        {"ARP for an own address cut before its target", addresses_only, cut(arp_for(kOwn), 14 + 20), false},
        {"UDP to an own address cut inside the UDP header", addresses_only, cut(udp4_to(kOwn, 161), 14 + 20 + 4), false},
        {"a neighbour solicitation cut before its target", addresses_only,
         cut(neighbour(135, "2001:db8::2"), 14 + 40 + 8 + 8), false},
        {"a QinQ frame cut inside its inner tag", addresses_only, cut(udp4_to(kOwn, 161, {outer, dot1q}), 20), false},

        // Listed services only.
        {"ssh to an own address, ssh listed", with_services, tcp4_to(kOwn, 22), true},
        {"http to an own address, not listed", with_services, tcp4_to(kOwn, 80), false},
        {"UDP to the ssh port, only TCP listed", with_services, udp4_to(kOwn, 22), false},
        {"snmp to the first port of a listed range", with_services, udp4_to(kOwn, 161), true},
        {"snmp to the last port of a listed range", with_services, udp4_to(kOwn, 162), true},
        {"UDP just past a listed range", with_services, udp4_to(kOwn, 163), false},
        {"ssh to another address", with_services, tcp4_to(kOther, 22), false},
        {"ICMP to an own address, every ICMP listed", with_services, icmp4_to(kOwn), true},
        {"an ICMP fragment after the first, every ICMP listed", with_services, later_fragment4(kOwn, 1), true},
        {"a UDP fragment after the first: no port, UDP listed by port only", with_services,
         later_fragment4(kOwn, 17), false},
        {"SCTP to a listed port: SCTP counts as port 0", with_services, sctp4_to(kOwn, 3868), false},
        {"snmp over IPv6 to an own address", with_services, udp6_to("2001:db8::2", 161), true},
        {"DNS over IPv6 to an own address, not listed", with_services, udp6_to("2001:db8::2", 53), false},
        {"ICMPv6 echo to an own address, ICMPv6 not listed", with_services, icmp6_echo_to("2001:db8::2"), false},
        {"neighbour solicitation for an own address, whatever the services", with_services,
         neighbour(135, "2001:db8::2"), true},
        {"ARP for an own address, whatever the services", with_services, arp_for(kOwn), true},
        {"snmp behind a hop-by-hop header: its protocol is the header's", with_services,
         udp6_hop_by_hop_to("2001:db8::2", 161), false},
        {"snmp to an own address through QinQ", with_services, udp4_to(kOwn, 161, {outer, dot1q}), true},

        // Listed ethertypes.
        {"LLDP, listed", with_ethertype, lldp(), true},
        {"LLDP in an 802.1Q tag, listed", with_ethertype, lldp({dot1q}), true},
        {"LLDP through QinQ, listed", with_ethertype, lldp({outer, dot1q}), true},
        {"UDP to an own address beside a listed ethertype", with_ethertype, udp4_to(kOwn, 161), true},
        {"ARP for another address beside a listed ethertype", with_ethertype, arp_for(kOther), false},
        {"LLDP with no addresses in the filter", ethertype_only, lldp(), true},
        {"UDP to 198.51.100.2 with no addresses in the filter", ethertype_only, udp4_to(kOwn, 161), false},
        {"ARP for 198.51.100.2 with no addresses in the filter", ethertype_only, arp_for(kOwn), false},
    };
}

}  // namespace sluice::test::management
