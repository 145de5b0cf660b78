// The gateway's own traffic, in the terms both enforcers use: the XDP
// program on af_xdp ports (bpf/) and the exception path of ports the kernel
// cannot see (dataplane/). The control side compiles a policy's
// [management] section into it; neither enforcer knows the policy language.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace sluice::dataplane {

struct ManagementFilter {
    // An address or prefix of the gateway. IPv4 is held IPv4-mapped
    // (::ffff:a.b.c.d) with 96 added to its length, so one lookup serves both
    // families.
    struct Prefix {
        std::array<uint8_t, 16> addr{};  // network order, host bits zero
        uint8_t length = 0;              // 0..128
        friend bool operator==(const Prefix&, const Prefix&) = default;
    };
    // A protocol, and an inclusive range of destination ports; 0..0 means
    // every port of the protocol (and a protocol without ports).
    struct Service {
        uint8_t protocol = 0;
        uint16_t first_port = 0;
        uint16_t last_port = 0;
        friend bool operator==(const Service&, const Service&) = default;
    };

    std::vector<Prefix> addresses;
    // Empty: everything addressed to `addresses` goes to the kernel.
    std::vector<Service> services;
    // Frames of these ethertypes (host order, after VLAN tags) always go to
    // the kernel, e.g. LLDP (0x88cc).
    std::vector<uint16_t> ethertypes;

    bool empty() const { return addresses.empty() && ethertypes.empty(); }
    friend bool operator==(const ManagementFilter&, const ManagementFilter&) = default;
};

}  // namespace sluice::dataplane
