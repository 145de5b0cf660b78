// Whether a port delivers, judged from samples: the link as the kernel sees
// it, the XDP program of an af_xdp port, and the two rx counters.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "dataplane/kernel_link.hpp"
#include "dataplane/port_health.hpp"

using namespace sluice::dataplane;
namespace fs = std::filesystem;

namespace {

KernelLink link_up() {
    KernelLink k;
    k.present = k.admin_up = k.carrier = true;
    k.operstate = "up";
    k.speed_mbps = 10000;
    k.duplex = "full";
    return k;
}

PortSample xdp_sample(uint64_t kernel_rx, uint64_t port_rx) {
    PortSample s;
    s.interface = "sl1l";
    s.link = link_up();
    s.xdp_attached = true;
    s.kernel_rx = kernel_rx;
    s.port_rx = port_rx;
    return s;
}

// Writes a fake /sys/class/net/IF directory.
void fake_interface(const std::string& sysfs, const std::string& ifname, const std::string& flags,
                    const char* carrier, const std::string& operstate, const char* speed) {
    const std::string dir = sysfs + "/" + ifname;
    fs::create_directories(dir + "/statistics");
    std::ofstream(dir + "/flags") << flags << "\n";
    if (carrier != nullptr) std::ofstream(dir + "/carrier") << carrier << "\n";
    std::ofstream(dir + "/operstate") << operstate << "\n";
    if (speed != nullptr) std::ofstream(dir + "/speed") << speed << "\n";
    std::ofstream(dir + "/duplex") << "full\n";
    std::ofstream(dir + "/statistics/rx_packets") << "1234\n";
}

}  // namespace

TEST_CASE("a port whose counters move with the kernel's is delivering") {
    DeliveryCheck c;
    for (uint64_t i = 0; i < 10; ++i) CHECK(c.update(xdp_sample(100 + 10 * i, 50 + 10 * i)).delivering());
}

TEST_CASE("an idle link is not a stall") {
    DeliveryCheck c;
    for (int i = 0; i < 10; ++i) CHECK(c.update(xdp_sample(100, 50)).delivering());
    // A packet or two the kernel counted alone (below the threshold) neither.
    CHECK(c.update(xdp_sample(101, 50)).delivering());
    CHECK(c.update(xdp_sample(102, 50)).delivering());
    CHECK(c.update(xdp_sample(102, 50)).delivering());
}

TEST_CASE("packets arriving on the interface for a whole window while the port receives none is a stall") {
    DeliveryCheck c(3, 3, 1);
    CHECK(c.update(xdp_sample(100, 50)).delivering());
    CHECK(c.update(xdp_sample(110, 50)).delivering());
    CHECK(c.update(xdp_sample(120, 50)).delivering());
    const PortHealth h = c.update(xdp_sample(130, 50));
    CHECK(h.condition == PortCondition::stalled);
    CHECK(h.reason == "30 packets arrived on interface sl1l in the last 3 s and the port received none");
    CHECK(c.update(xdp_sample(140, 50)).condition == PortCondition::stalled);
    // Recovered as soon as the port receives again.
    CHECK(c.update(xdp_sample(150, 51)).delivering());
}

TEST_CASE("an af_xdp port without its XDP program is not delivering, at once") {
    DeliveryCheck c;
    CHECK(c.update(xdp_sample(100, 50)).delivering());
    PortSample s = xdp_sample(100, 50);
    s.xdp_attached = false;
    const PortHealth h = c.update(s);
    CHECK(h.condition == PortCondition::no_xdp_program);
    CHECK(h.reason.find("no XDP program is attached to interface sl1l") == 0);
    // When the question cannot be asked, the counters decide.
    s.xdp_attached.reset();
    CHECK(c.update(s).delivering());
}

TEST_CASE("a link that is down is reported as down, not as a stall") {
    DeliveryCheck c;
    PortSample s = xdp_sample(100, 50);
    s.link.carrier = false;
    PortHealth h = c.update(s);
    CHECK(h.condition == PortCondition::link_down);
    CHECK(h.reason == "link down (interface sl1l has no carrier)");
    s.link.admin_up = false;
    CHECK(c.update(s).reason == "link down (interface sl1l is administratively down)");
    s.link.present = false;
    CHECK(c.update(s).reason == "link down (interface sl1l does not exist)");
    // Up again: the window starts afresh, so old kernel counts do not count.
    CHECK(c.update(xdp_sample(500, 50)).delivering());
    CHECK(c.update(xdp_sample(500, 50)).delivering());
}

TEST_CASE("a port without an interface follows the driver's link") {
    DeliveryCheck c;
    PortSample s;
    s.driver_link_up = true;
    CHECK(c.update(s).delivering());
    s.driver_link_up = false;
    CHECK(c.update(s).condition == PortCondition::link_down);
}

TEST_CASE("the kernel's view of an interface is read from sysfs") {
    char name[] = "/tmp/sluice-sysfs-test.XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    const std::string sysfs = name;
    fake_interface(sysfs, "up0", "0x1103", "1", "up", "10000");
    fake_interface(sysfs, "down0", "0x1002", nullptr, "down", nullptr);
    fake_interface(sysfs, "nocarrier0", "0x1003", "0", "down", "10000");
    fake_interface(sysfs, "tun0", "0x1091", "1", "unknown", "-1");

    CHECK(read_kernel_link("up0", sysfs).describe("up0") == "link up at 10000 Mbit/s, full duplex (interface up0)");
    CHECK(read_kernel_link("up0", sysfs).up());
    CHECK(read_kernel_link("down0", sysfs).describe("down0") == "link down (interface down0 is administratively down)");
    CHECK(read_kernel_link("nocarrier0", sysfs).describe("nocarrier0") == "link down (interface nocarrier0 has no carrier)");
    CHECK(read_kernel_link("tun0", sysfs).up());
    CHECK(read_kernel_link("tun0", sysfs).describe("tun0") == "link up at unknown speed, full duplex (interface tun0)");
    CHECK_FALSE(read_kernel_link("gone0", sysfs).present);
    CHECK_FALSE(read_kernel_link("../up0", sysfs).present);
    CHECK(kernel_rx_packets("up0", sysfs) == 1234u);
    CHECK_FALSE(kernel_rx_packets("gone0", sysfs).has_value());
    fs::remove_all(sysfs);
}
