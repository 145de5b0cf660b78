#include "dataplane/kernel_link.hpp"

#include <fmt/format.h>
#include <net/if.h>

#include <fstream>

namespace sluice::dataplane {
namespace {

// The first word of a sysfs attribute; nothing when it cannot be read (some
// attributes refuse reading with EINVAL while the interface is down).
std::optional<std::string> attribute(const std::string& sysfs, const std::string& ifname, const char* name) {
    std::ifstream in(sysfs + "/" + ifname + "/" + name);
    std::string word;
    if (!(in >> word)) return std::nullopt;
    return word;
}

}  // namespace

KernelLink read_kernel_link(const std::string& ifname, const std::string& sysfs) {
    KernelLink k;
    // A name with '/' or ".." would read outside the interface's directory.
    if (ifname.empty() || ifname.find('/') != std::string::npos || ifname == "." || ifname == "..") return k;
    const auto flags = attribute(sysfs, ifname, "flags");
    if (!flags) return k;
    k.present = true;
    try {
        k.admin_up = (std::stoul(*flags, nullptr, 16) & IFF_UP) != 0;
    } catch (const std::exception&) {
        k.admin_up = false;
    }
    k.carrier = attribute(sysfs, ifname, "carrier").value_or("0") == "1";
    k.operstate = attribute(sysfs, ifname, "operstate").value_or("unknown");
    if (const auto s = attribute(sysfs, ifname, "speed")) {
        try {
            k.speed_mbps = std::stoll(*s);
        } catch (const std::exception&) {
            k.speed_mbps = -1;
        }
        if (k.speed_mbps <= 0) k.speed_mbps = -1;
    }
    const auto d = attribute(sysfs, ifname, "duplex");
    if (d && (*d == "full" || *d == "half")) k.duplex = *d;
    return k;
}

std::string KernelLink::describe(const std::string& ifname) const {
    if (!present) return fmt::format("link down (interface {} does not exist)", ifname);
    if (!admin_up) return fmt::format("link down (interface {} is administratively down)", ifname);
    if (!carrier) return fmt::format("link down (interface {} has no carrier)", ifname);
    if (!up()) return fmt::format("link down (interface {} is {})", ifname, operstate);
    const std::string speed = speed_mbps > 0 ? fmt::format("{} Mbit/s", speed_mbps) : std::string("unknown speed");
    if (duplex.empty()) return fmt::format("link up at {} (interface {})", speed, ifname);
    return fmt::format("link up at {}, {} duplex (interface {})", speed, duplex, ifname);
}

std::optional<uint64_t> kernel_rx_packets(const std::string& ifname, const std::string& sysfs) {
    if (ifname.empty() || ifname.find('/') != std::string::npos || ifname == "." || ifname == "..") return std::nullopt;
    std::ifstream in(sysfs + "/" + ifname + "/statistics/rx_packets");
    uint64_t v = 0;
    if (!(in >> v)) return std::nullopt;
    return v;
}

}  // namespace sluice::dataplane
