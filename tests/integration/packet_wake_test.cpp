// The wake-up socket of an af_packet port, on a real veth pair: disarmed it
// queues nothing, armed the next incoming frame makes it readable, and
// frames sent out of the interface never do.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>

#include "dataplane/packet_wake.hpp"

using sluice::dataplane::PacketWake;

namespace {

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A veth pair with IPv6 off on both ends, so that nothing but the test's own
// frames crosses it; removed again by the destructor.
struct VethPair {
    std::string a, b;
    VethPair() {
        const std::string id = std::to_string(getpid() % 100000);
        a = "swk" + id + "a";
        b = "swk" + id + "b";
        run("ip link add " + a + " type veth peer name " + b);
        for (const auto& i : {a, b}) {
            run("sysctl -qw net.ipv6.conf." + i + ".disable_ipv6=1");
            run("ip link set " + i + " up");
        }
    }
    ~VethPair() { run("ip link del " + a); }
};

// Sends one local-experimental frame (ethertype 0x88b5) out of `interface`.
void send_frame(const std::string& interface) {
    const int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    REQUIRE(fd >= 0);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
    to.sll_halen = ETH_ALEN;
    std::array<uint8_t, 60> frame{};
    frame.fill(0);
    for (int i = 0; i < 6; ++i) frame[i] = 0xff;
    frame[6] = 0x02;
    frame[12] = 0x88;
    frame[13] = 0xb5;
    REQUIRE(sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) ==
            static_cast<ssize_t>(frame.size()));
    close(fd);
}

bool readable_within(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

}  // namespace

TEST_CASE("a wake-up socket turns readable on the next incoming frame only while armed") {
    if (geteuid() != 0) {
        WARN("needs root to create a veth pair; not run");
        return;
    }
    VethPair veth;
    auto wake = PacketWake::open(veth.a);
    REQUIRE(wake.ok());
    const int fd = (*wake)->fd();

    // Disarmed: frames are dropped by the filter, nothing is queued.
    for (int i = 0; i < 3; ++i) send_frame(veth.b);
    CHECK_FALSE(readable_within(fd, 200));
    CHECK((*wake)->disarm() == 0);

    // Armed: the next frame wakes, and disarming reads it away.
    REQUIRE((*wake)->arm());
    CHECK_FALSE(readable_within(fd, 100));
    send_frame(veth.b);
    CHECK(readable_within(fd, 2000));
    CHECK((*wake)->disarm() >= 1);
    CHECK_FALSE(readable_within(fd, 100));

    // Frames sent out of the interface itself (the gateway's own) never wake.
    REQUIRE((*wake)->arm());
    send_frame(veth.a);
    CHECK_FALSE(readable_within(fd, 300));
    CHECK((*wake)->disarm() == 0);
}

TEST_CASE("a wake-up socket for an interface that does not exist is refused with its name") {
    auto wake = PacketWake::open("sluice-no-such0");
    REQUIRE_FALSE(wake.ok());
    CHECK(wake.error().find("sluice-no-such0") != std::string::npos);
}
