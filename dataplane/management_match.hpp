// The gateway's own traffic, decided per frame on the DPDK path: a
// ManagementFilter compiled into small sorted tables that the exception path
// (frames for the kernel of a port it cannot see) asks about every frame.
//
// It decides exactly as the XDP program on af_xdp ports does
// (bpf/management.bpf.c), so a policy means the same on every port kind
// (tests/support/management_cases.hpp runs one table of frames through both):
//   - a frame of a listed ethertype, after up to two 802.1Q / 802.1ad tags
//     (a 0x9100 tag is not peeled: its TPID is the frame's ethertype);
//   - ARP for IPv4 whose target protocol address is an own address;
//   - ICMPv6 neighbour solicitation or advertisement whose target is an own
//     address (solicitations go to a multicast address: the target decides);
//   - IPv4 or IPv6 to an own address and, when services are listed, to one
//     of them: TCP and UDP by destination port, other protocols (ICMP, SCTP,
//     an IPv4 fragment after the first, an IPv6 packet with extension
//     headers, whose first next-header is its protocol) as port 0, which
//     only a service for the whole protocol (ports 0..0) matches.
// Everything else, and every frame the parser found malformed, is data
// plane traffic.
//
// Expects:  the PacketMeta of a frame parse_frame() accepted, and that
//           frame's first `contiguous` bytes (ARP and neighbour targets are
//           read from them; a target past them is not read, the frame is
//           not management traffic).
// Costs:    a few compares for frames of other ethertypes; for IP, one
//           binary search per distinct prefix length; no allocation, no
//           lock. Immutable once compiled: workers share one by pointer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.hpp"
#include "dataplane/management_filter.hpp"
#include "dataplane/packet_meta.hpp"

namespace sluice::dataplane {

class ManagementMatch {
public:
    // The same bounds as the XDP program's maps, so that a filter one
    // enforcer takes the other takes too.
    static constexpr size_t kMaxAddresses = 1024;
    static constexpr size_t kMaxServices = 4096;
    static constexpr size_t kMaxEthertypes = 64;

    // Refuses a prefix longer than 128 bits (an IPv4 prefix is held with 96
    // added) and filters beyond the bounds above, saying which.
    static Result<std::shared_ptr<const ManagementMatch>> compile(const ManagementFilter& filter);

    // Nothing is management traffic: callers publish no matcher instead.
    bool empty() const { return addresses_.empty() && ethertypes_.empty(); }

    // Whether the frame goes to the gateway's kernel.
    bool matches(const PacketMeta& meta, const uint8_t* frame, uint32_t contiguous) const;

private:
    ManagementMatch() = default;

    // An address as two big-endian halves, so a masked compare is two words.
    struct Key {
        uint64_t hi = 0, lo = 0;
        friend auto operator<=>(const Key&, const Key&) = default;
    };
    // The prefixes of one length, as a slice of addresses_.
    struct LengthSlice {
        Key mask;
        uint32_t begin = 0, end = 0;
    };
    struct PortRange {
        uint16_t first = 0, last = 0;
    };

    bool own(Key address) const;
    bool own_v4(const uint8_t* addr) const;
    bool own_v6(const uint8_t* addr) const;
    bool service_listed(uint8_t protocol, uint16_t port) const;
    bool ip_to_own(const PacketMeta& m, const uint8_t* frame, uint32_t contiguous) const;
    bool ethertype_listed(uint16_t type) const;

    std::vector<Key> addresses_;          // masked, sorted within each slice
    std::vector<LengthSlice> lengths_;    // one per distinct prefix length
    std::vector<uint16_t> ethertypes_;    // sorted
    bool services_listed_ = false;
    std::array<uint64_t, 4> whole_protocol_{};  // bit per protocol: a 0..0 service
    std::array<uint32_t, 257> ranges_at_{};     // ranges_[ranges_at_[p], ranges_at_[p + 1]) for protocol p
    std::vector<PortRange> ranges_;             // merged, sorted per protocol, never port 0
};

}  // namespace sluice::dataplane
