#include "dataplane/management_match.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::dataplane {
namespace {

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
// Pre-standard QinQ: the parser peels it, the XDP program does not; the
// frame's ethertype is then this TPID, as the program sees it.
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kNeighbourSolicitation = 135;
constexpr uint8_t kNeighbourAdvertisement = 136;
constexpr uint32_t kArpLength = 28;        // ARP for IPv4 over Ethernet
constexpr uint32_t kArpTargetOffset = 24;  // target protocol address
constexpr uint32_t kIpv6HeaderLength = 40;
constexpr uint32_t kIcmpv6HeaderLength = 8;

uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint64_t load_be64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

uint64_t high_mask(unsigned bits) { return bits == 0 ? 0 : bits >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - bits); }

// The two halves' masks for a prefix of `length` bits.
std::pair<uint64_t, uint64_t> masks(unsigned length) {
    return {high_mask(length), high_mask(length > 64 ? length - 64 : 0)};
}

}  // namespace

Result<std::shared_ptr<const ManagementMatch>> ManagementMatch::compile(const ManagementFilter& f) {
    if (f.addresses.size() > kMaxAddresses)
        return Error{fmt::format("management: {} addresses, at most {}", f.addresses.size(), kMaxAddresses)};
    if (f.services.size() > kMaxServices)
        return Error{fmt::format("management: {} services, at most {}", f.services.size(), kMaxServices)};
    if (f.ethertypes.size() > kMaxEthertypes)
        return Error{fmt::format("management: {} ethertypes, at most {}", f.ethertypes.size(), kMaxEthertypes)};

    std::shared_ptr<ManagementMatch> m(new ManagementMatch());

    // Prefixes grouped by length; one sorted slice each.
    std::vector<std::pair<uint8_t, Key>> prefixes;
    for (const auto& p : f.addresses) {
        if (p.length > 128) return Error{fmt::format("management: prefix length {} is over 128", p.length)};
        const auto [hi, lo] = masks(p.length);
        const Key k{load_be64(p.addr.data()) & hi, load_be64(p.addr.data() + 8) & lo};
        prefixes.emplace_back(p.length, k);
    }
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    for (const auto& [length, key] : prefixes) {
        const auto [hi, lo] = masks(length);
        if (m->lengths_.empty() || m->lengths_.back().mask != Key{hi, lo}) {
            const auto at = static_cast<uint32_t>(m->addresses_.size());
            m->lengths_.push_back({Key{hi, lo}, at, at});
        }
        m->addresses_.push_back(key);
        m->lengths_.back().end = static_cast<uint32_t>(m->addresses_.size());
    }

    // Services: whole protocols as a bitmap, port ranges merged per protocol.
    m->services_listed_ = !f.services.empty();
    std::vector<std::pair<uint8_t, PortRange>> ranges;
    for (const auto& s : f.services) {
        if (s.first_port == 0 && s.last_port == 0) {
            m->whole_protocol_[s.protocol / 64] |= uint64_t{1} << (s.protocol % 64);
            continue;
        }
        if (s.first_port == 0 || s.first_port > s.last_port) {
            return Error{fmt::format("management: protocol {} ports {}..{}: a range is 1..65535, first to last, "
                                     "or 0..0 for every port",
                                     s.protocol, s.first_port, s.last_port)};
        }
        ranges.push_back({s.protocol, PortRange{s.first_port, s.last_port}});
    }
    std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second.first < b.second.first;
    });
    std::vector<uint32_t> count(256, 0);
    for (size_t i = 0; i < ranges.size(); ++i) {
        const auto& [protocol, r] = ranges[i];
        if (i != 0 && ranges[i - 1].first == protocol && r.first <= uint32_t{m->ranges_.back().last} + 1) {
            m->ranges_.back().last = std::max(m->ranges_.back().last, r.last);
            continue;
        }
        m->ranges_.push_back(r);
        ++count[protocol];
    }
    for (unsigned p = 0; p < 256; ++p) m->ranges_at_[p + 1] = m->ranges_at_[p] + count[p];

    m->ethertypes_ = f.ethertypes;
    std::sort(m->ethertypes_.begin(), m->ethertypes_.end());
    m->ethertypes_.erase(std::unique(m->ethertypes_.begin(), m->ethertypes_.end()), m->ethertypes_.end());
    return std::shared_ptr<const ManagementMatch>(std::move(m));
}

bool ManagementMatch::own(Key a) const {
    for (const LengthSlice& s : lengths_) {
        const Key k{a.hi & s.mask.hi, a.lo & s.mask.lo};
        if (std::binary_search(addresses_.begin() + s.begin, addresses_.begin() + s.end, k)) return true;
    }
    return false;
}

bool ManagementMatch::own_v4(const uint8_t* addr) const {
    // IPv4-mapped: ::ffff:a.b.c.d.
    const uint64_t v4 = (uint64_t{addr[0]} << 24) | (uint64_t{addr[1]} << 16) | (uint64_t{addr[2]} << 8) | addr[3];
    return own(Key{0, (uint64_t{0xffff} << 32) | v4});
}

bool ManagementMatch::own_v6(const uint8_t* addr) const { return own(Key{load_be64(addr), load_be64(addr + 8)}); }

bool ManagementMatch::service_listed(uint8_t protocol, uint16_t port) const {
    if (!services_listed_) return true;
    if ((whole_protocol_[protocol / 64] >> (protocol % 64)) & 1) return true;
    if (port == 0) return false;
    const auto begin = ranges_.begin() + ranges_at_[protocol], end = ranges_.begin() + ranges_at_[protocol + 1];
    // The last range starting at or below the port.
    auto it = std::upper_bound(begin, end, port, [](uint16_t p, const PortRange& r) { return p < r.first; });
    return it != begin && port <= std::prev(it)->last;
}

bool ManagementMatch::ethertype_listed(uint16_t type) const {
    return std::binary_search(ethertypes_.begin(), ethertypes_.end(), type);
}

bool ManagementMatch::ip_to_own(const PacketMeta& m, const uint8_t* frame, uint32_t contiguous) const {
    if (m.l3 == L3Kind::ipv4) {
        if (!own_v4(m.dst_addr)) return false;
        // A fragment after the first has no ports: its protocol decides.
        const bool ports = !m.has(meta_flag::later_fragment) && (m.l4_proto == kProtoTcp || m.l4_proto == kProtoUdp);
        return service_listed(m.l4_proto, ports ? m.dst_port : 0);
    }
    // The XDP program reads the fixed header's next header and no further.
    const uint8_t next = m.has(meta_flag::ipv6_extensions) ? frame[m.l3_offset + 6] : m.l4_proto;
    if (next == kProtoIcmpv6) {
        const uint32_t icmp = m.l3_offset + kIpv6HeaderLength;
        if (icmp + kIcmpv6HeaderLength > contiguous) return false;
        const uint8_t type = frame[icmp];
        if (type == kNeighbourSolicitation || type == kNeighbourAdvertisement) {
            if (icmp + kIcmpv6HeaderLength + 16 > contiguous) return false;
            if (own_v6(frame + icmp + kIcmpv6HeaderLength)) return true;
        }
    }
    if (!own_v6(m.dst_addr)) return false;
    return service_listed(next, next == kProtoTcp || next == kProtoUdp ? m.dst_port : 0);
}

bool ManagementMatch::matches(const PacketMeta& m, const uint8_t* frame, uint32_t contiguous) const {
    if (m.malformed()) return false;
    uint16_t type = m.ethertype;
    // The tags were read by the parser, so they lie within `contiguous`.
    for (unsigned i = 0; i < m.vlan_count; ++i) {
        if (load_be16(frame + 12 + 4 * i) == kEtherQinQOld) {
            type = kEtherQinQOld;
            break;
        }
    }
    if (!ethertypes_.empty() && ethertype_listed(type)) return true;
    if (addresses_.empty()) return false;
    if (type == kEtherArp) {
        const uint32_t arp = m.l3_offset;
        if (arp + kArpLength > contiguous) return false;
        if (load_be16(frame + arp + 2) != kEtherIpv4) return false;
        return own_v4(frame + arp + kArpTargetOffset);
    }
    if ((type == kEtherIpv4 || type == kEtherIpv6) && m.is_ip()) return ip_to_own(m, frame, contiguous);
    return false;
}

}  // namespace sluice::dataplane
