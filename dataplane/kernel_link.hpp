// A kernel interface as the kernel sees it, from /sys/class/net/IF: whether
// it exists, is administratively up, has carrier, its operstate, speed and
// receive counter. DPDK's own link report for af_xdp and af_packet ports is
// not the interface's: it says "up" on a veth that is down.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::dataplane {

struct KernelLink {
    bool present = false;       // the interface exists
    bool admin_up = false;      // IFF_UP
    bool carrier = false;       // carrier (lower layer up)
    std::string operstate;      // "up", "down", "unknown", "dormant", ...
    int64_t speed_mbps = -1;    // -1 when the driver does not say
    std::string duplex;         // "full", "half" or empty

    // Frames flow: up, or "unknown" (drivers without operstate) with carrier.
    bool up() const { return present && admin_up && carrier && (operstate == "up" || operstate == "unknown"); }

    // "link up at 10000 Mbit/s, full duplex (interface X)" or
    // "link down (interface X has no carrier)": the same opening words as
    // Port::link_status() for ports without an interface.
    std::string describe(const std::string& ifname) const;
};

// Reads /sys/class/net/IF (`sysfs` is that directory, replaceable for tests).
KernelLink read_kernel_link(const std::string& ifname, const std::string& sysfs = "/sys/class/net");

// The interface's rx_packets counter; nothing when it cannot be read.
std::optional<uint64_t> kernel_rx_packets(const std::string& ifname, const std::string& sysfs = "/sys/class/net");

}  // namespace sluice::dataplane
