#include "tests/support/frame_builder.hpp"

#include <cstring>

namespace sluice::test {
namespace {

void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
void set16(Bytes& b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    if (n & 1) acc += static_cast<uint32_t>(p[n - 1] << 8);
    return acc;
}
uint16_t fold(uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
}

// Offset of the checksum field inside an L4 header, or -1 for none.
int checksum_offset(uint8_t proto) {
    switch (proto) {
    case 6: return 16;
    case 17: return 6;
    case 1: return 2;
    case 58: return 2;
    default: return -1;
    }
}

}  // namespace

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, static_cast<uint16_t>(8 + payload.size()));
    put16(b, 0);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, const Bytes& payload, uint8_t flags) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put32(b, 1000);  // sequence
    put32(b, 0);     // ack
    b.push_back(5 << 4);
    b.push_back(flags);
    put16(b, 65535);  // window
    put16(b, 0);      // checksum
    put16(b, 0);      // urgent
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Bytes sctp(uint16_t sport, uint16_t dport) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put32(b, 0x01020304);  // verification tag
    put32(b, 0);           // CRC32c, not checked by the parser
    return b;
}

Bytes icmp_echo(uint8_t type, uint16_t id, uint16_t seq, const Bytes& payload) {
    Bytes b{type, 0, 0, 0};
    put16(b, id);
    put16(b, seq);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Bytes ipv6_ext(uint8_t next_header, const Bytes& body) {
    Bytes b{next_header, 0};
    b.insert(b.end(), body.begin(), body.end());
    while (b.size() % 8) b.push_back(0);
    b[1] = static_cast<uint8_t>(b.size() / 8 - 1);
    return b;
}

Bytes ipv6_fragment_ext(uint8_t next_header, uint16_t offset_units, bool more, uint32_t id) {
    Bytes b{next_header, 0};
    put16(b, static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0)));
    put32(b, id);
    return b;
}

Bytes ipv4_datagram(const Ipv4Spec& ip, const Bytes& l4_in) {
    Bytes opts = ip.options;
    while (opts.size() % 4) opts.push_back(0);  // end-of-options padding
    const size_t ihl = 20 + opts.size();
    Bytes l4 = l4_in;
    const bool first = ip.fragment_offset_units == 0;
    const int csum_at = checksum_offset(ip.protocol);
    if (first && csum_at >= 0 && l4.size() >= static_cast<size_t>(csum_at) + 2) {
        uint32_t acc = 0;
        if (ip.protocol != 1) {  // ICMPv4 has no pseudo-header
            acc = sum16(ip.src, 4, acc);
            acc = sum16(ip.dst, 4, acc);
            acc += ip.protocol;
            acc += static_cast<uint32_t>(l4.size());
        }
        set16(l4, static_cast<size_t>(csum_at), 0);
        acc = sum16(l4.data(), l4.size(), acc);
        uint16_t c = fold(acc);
        if (ip.protocol == 17 && c == 0) c = 0xffff;
        set16(l4, static_cast<size_t>(csum_at), c);
    }
    Bytes b;
    b.push_back(static_cast<uint8_t>(0x40 | (ihl / 4)));
    b.push_back(ip.tos);
    put16(b, static_cast<uint16_t>(ihl + l4.size()));
    put16(b, ip.id);
    put16(b, static_cast<uint16_t>((ip.more_fragments ? 0x2000 : 0) | ip.fragment_offset_units));
    b.push_back(ip.ttl);
    b.push_back(ip.protocol);
    put16(b, 0);
    b.insert(b.end(), ip.src, ip.src + 4);
    b.insert(b.end(), ip.dst, ip.dst + 4);
    b.insert(b.end(), opts.begin(), opts.end());
    set16(b, 10, fold(sum16(b.data(), ihl)));
    b.insert(b.end(), l4.begin(), l4.end());
    return b;
}

Bytes ipv6_datagram(const Ipv6Spec& ip, const Bytes& payload_in, uint8_t upper_proto,
                    size_t l4_offset) {
    Bytes payload = payload_in;
    const int csum_at = checksum_offset(upper_proto);
    if (csum_at >= 0 && payload.size() >= l4_offset + static_cast<size_t>(csum_at) + 2) {
        const size_t l4_len = payload.size() - l4_offset;
        uint32_t acc = sum16(ip.src, 16);
        acc = sum16(ip.dst, 16, acc);
        acc += static_cast<uint32_t>(l4_len);
        acc += upper_proto;
        set16(payload, l4_offset + static_cast<size_t>(csum_at), 0);
        acc = sum16(payload.data() + l4_offset, l4_len, acc);
        uint16_t c = fold(acc);
        if (upper_proto == 17 && c == 0) c = 0xffff;
        set16(payload, l4_offset + static_cast<size_t>(csum_at), c);
    }
    Bytes b;
    put32(b, (6u << 28) | (static_cast<uint32_t>(ip.traffic_class) << 20) | (ip.flow_label & 0xfffff));
    put16(b, static_cast<uint16_t>(payload.size()));
    b.push_back(ip.next_header);
    b.push_back(ip.hop_limit);
    b.insert(b.end(), ip.src, ip.src + 16);
    b.insert(b.end(), ip.dst, ip.dst + 16);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Bytes ethernet(uint16_t ethertype, const Bytes& payload, std::initializer_list<VlanTag> tags) {
    Bytes b{0x02, 0x00, 0x00, 0x00, 0x00, 0x02,   // destination: locally administered
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01};  // source
    for (const VlanTag& t : tags) {
        put16(b, t.tpid);
        put16(b, t.tci);
    }
    put16(b, ethertype);
    b.insert(b.end(), payload.begin(), payload.end());
    // Pad to the 60-byte minimum, as a NIC would before the FCS.
    while (b.size() < 60) b.push_back(0);
    return b;
}

Bytes arp_request() {
    Bytes a;
    put16(a, 1);       // Ethernet
    put16(a, 0x0800);  // IPv4
    a.push_back(6);
    a.push_back(4);
    put16(a, 1);  // request
    for (uint8_t v : {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192, 0, 2, 1}) a.push_back(v);
    for (uint8_t v : {0, 0, 0, 0, 0, 0, 198, 51, 100, 2}) a.push_back(v);
    return ethernet(0x0806, a);
}

Bytes udp4_frame(uint16_t sport, uint16_t dport, uint8_t tos, std::initializer_list<VlanTag> tags) {
    Ipv4Spec ip;
    ip.tos = tos;
    return ethernet(0x0800, ipv4_datagram(ip, udp(sport, dport, Bytes(18, 0xab))), tags);
}

Bytes tcp4_frame(uint16_t sport, uint16_t dport, uint8_t tos) {
    Ipv4Spec ip;
    ip.tos = tos;
    ip.protocol = 6;
    return ethernet(0x0800, ipv4_datagram(ip, tcp(sport, dport)));
}

Bytes udp6_frame(uint16_t sport, uint16_t dport, uint8_t tclass) {
    Ipv6Spec ip;
    ip.traffic_class = tclass;
    return ethernet(0x86dd, ipv6_datagram(ip, udp(sport, dport, Bytes(10, 0xcd)), 17, 0));
}

}  // namespace sluice::test
