#include "dataplane/parser.hpp"

#include <cstring>

namespace sluice::dataplane {
namespace {

// Ethertypes and protocol numbers, host order.
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;     // 802.1Q
constexpr uint16_t kEtherQinQ = 0x88a8;     // 802.1ad service tag
constexpr uint16_t kEtherQinQOld = 0x9100;  // pre-standard QinQ still seen in the field

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoDestOpts = 60;
constexpr uint8_t kProtoUdpLite = 136;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoMobility = 135;
constexpr uint8_t kProtoHip = 139;
constexpr uint8_t kProtoShim6 = 140;

constexpr uint16_t load_be16(const uint8_t* p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

bool is_vlan_tpid(uint16_t t) {
    return t == kEtherVlan || t == kEtherQinQ || t == kEtherQinQOld;
}

bool is_ipv6_extension(uint8_t next) {
    switch (next) {
    case kProtoHopByHop:
    case kProtoRouting:
    case kProtoFragment:
    case kProtoAh:
    case kProtoDestOpts:
    case kProtoMobility:
    case kProtoHip:
    case kProtoShim6:
        return true;
    default:
        return false;
    }
}

// Reads the L4 header that starts at `off` and ends no later than `end` (the
// end of the IP datagram, which may be before the end of a padded frame).
ParseError parse_l4(const uint8_t* data, uint32_t contiguous, uint32_t off, uint32_t end,
                    PacketMeta& m) {
    m.l4_offset = static_cast<uint16_t>(off);
    const uint32_t avail = end > off ? end - off : 0;
    uint32_t need;
    switch (m.l4_proto) {
    case kProtoTcp: need = 20; break;
    case kProtoUdp:
    case kProtoUdpLite: need = 8; break;
    case kProtoSctp: need = 12; break;
    case kProtoIcmp:
    case kProtoIcmpv6: need = 4; break;
    default:
        // An upper layer we do not look into (GRE, ESP, OSPF, ...): no ports.
        return ParseError::none;
    }
    if (avail < need || off + need > contiguous) return ParseError::truncated_l4_header;
    const uint8_t* l4 = data + off;
    if (m.l4_proto == kProtoIcmp || m.l4_proto == kProtoIcmpv6) {
        m.src_port = l4[0];
        m.dst_port = l4[1];
        m.flags |= meta_flag::has_icmp;
        return ParseError::none;
    }
    if (m.l4_proto == kProtoTcp) {
        const uint32_t doff = static_cast<uint32_t>(l4[12] >> 4) * 4;
        if (doff < 20 || doff > avail) return ParseError::bad_tcp_header_length;
    }
    m.src_port = load_be16(l4);
    m.dst_port = load_be16(l4 + 2);
    m.flags |= meta_flag::has_ports;
    return ParseError::none;
}

ParseError parse_ipv4(const uint8_t* data, uint32_t contiguous, uint32_t frame_len, uint32_t off,
                      PacketMeta& m) {
    if (off + 20 > contiguous) return ParseError::truncated_ip_header;
    const uint8_t* ip = data + off;
    if ((ip[0] >> 4) != 4) return ParseError::bad_ip_version;
    const uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0f) * 4;
    if (ihl < 20) return ParseError::bad_ipv4_header_length;
    const uint32_t total = load_be16(ip + 2);
    if (total < ihl) {
        // A total length that cannot even hold the header it claims.
        return total < 20 ? ParseError::bad_ip_total_length : ParseError::bad_ipv4_header_length;
    }
    if (off + total > frame_len) return ParseError::bad_ip_total_length;
    if (off + ihl > contiguous) return ParseError::truncated_ip_header;

    m.l3 = L3Kind::ipv4;
    m.l3_len = static_cast<uint16_t>(total);
    m.tos = ip[1];
    m.l4_proto = ip[9];
    std::memcpy(m.src_addr, ip + 12, 4);
    std::memcpy(m.dst_addr, ip + 16, 4);
    if (ihl > 20) m.flags |= meta_flag::ipv4_options;

    const uint16_t frag = load_be16(ip + 6);
    const bool more_fragments = (frag & 0x2000) != 0;
    const uint16_t frag_offset = frag & 0x1fff;
    if (more_fragments || frag_offset != 0) m.flags |= meta_flag::fragment;
    if (frag_offset != 0) {
        // Only the first fragment carries the L4 header.
        m.flags |= meta_flag::later_fragment;
        return ParseError::none;
    }
    return parse_l4(data, contiguous, off + ihl, off + total, m);
}

ParseError parse_ipv6(const uint8_t* data, uint32_t contiguous, uint32_t frame_len, uint32_t off,
                      PacketMeta& m) {
    if (off + 40 > contiguous) return ParseError::truncated_ip_header;
    const uint8_t* ip = data + off;
    if ((ip[0] >> 4) != 6) return ParseError::bad_ip_version;
    const uint32_t total = 40u + load_be16(ip + 4);
    if (off + total > frame_len) return ParseError::bad_ip_total_length;

    m.l3 = L3Kind::ipv6;
    m.l3_len = static_cast<uint16_t>(total > 0xffff ? 0xffff : total);
    m.tos = static_cast<uint8_t>(((ip[0] & 0x0f) << 4) | (ip[1] >> 4));
    std::memcpy(m.src_addr, ip + 8, 16);
    std::memcpy(m.dst_addr, ip + 24, 16);

    const uint32_t end = off + total;
    uint8_t next = ip[6];
    uint32_t pos = off + 40;
    unsigned walked = 0;
    while (is_ipv6_extension(next)) {
        if (walked == kMaxIpv6ExtensionHeaders) return ParseError::ipv6_extension_chain_too_long;
        ++walked;
        m.flags |= meta_flag::ipv6_extensions;
        // Every extension header starts with next-header and a length byte.
        if (pos + 8 > end || pos + 8 > contiguous) return ParseError::truncated_ipv6_extension;
        const uint8_t* h = data + pos;
        uint32_t len;
        if (next == kProtoFragment) {
            len = 8;
            const uint16_t frag = load_be16(h + 2);
            m.flags |= meta_flag::fragment;
            if ((frag & 0xfff8) != 0) {
                // Non-zero offset: the rest is payload of a later fragment.
                m.flags |= meta_flag::later_fragment;
                m.l4_proto = h[0];
                return ParseError::none;
            }
        } else if (next == kProtoAh) {
            len = (static_cast<uint32_t>(h[1]) + 2) * 4;  // AH counts 4-byte words
        } else {
            len = (static_cast<uint32_t>(h[1]) + 1) * 8;
        }
        if (pos + len > end) return ParseError::truncated_ipv6_extension;
        next = h[0];
        pos += len;
    }
    m.l4_proto = next;
    return parse_l4(data, contiguous, pos, end, m);
}

}  // namespace

void parse_frame(const uint8_t* data, uint32_t contiguous, uint32_t frame_len, PacketMeta& m) {
    std::memset(&m, 0, sizeof(m));
    if (contiguous > frame_len) contiguous = frame_len;
    m.frame_len = frame_len;
    if (contiguous < 14) {
        m.error = ParseError::truncated_ethernet;
        return;
    }
    uint32_t off = 12;
    uint16_t type = load_be16(data + off);
    while (is_vlan_tpid(type) && m.vlan_count < kMaxVlanTags) {
        if (off + 6 > contiguous) {
            m.error = ParseError::truncated_ethernet;
            return;
        }
        m.vlan_tci[m.vlan_count++] = load_be16(data + off + 2);
        off += 4;
        type = load_be16(data + off);
    }
    m.ethertype = type;
    off += 2;
    m.l3_offset = static_cast<uint16_t>(off);

    // A third VLAN tag leaves the ethertype at a TPID: the frame is carried
    // through as non-IP rather than guessed at.
    if (type == kEtherIpv4) {
        m.error = parse_ipv4(data, contiguous, frame_len, off, m);
    } else if (type == kEtherIpv6) {
        m.error = parse_ipv6(data, contiguous, frame_len, off, m);
    }
}

}  // namespace sluice::dataplane
