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
#include "tests/support/veth_pair.hpp"

using sluice::dataplane::PacketWake;

namespace {

// Sends one local-experimental frame (ethertype 0x88b5) out of `interface`.
void send_frame(const std::string& interface) {
    sluice::test::FrameSender sender(interface);
    REQUIRE(sender.ok());
    std::vector<uint8_t> frame(60, 0);
    for (int i = 0; i < 6; ++i) frame[i] = 0xff;
    frame[6] = 0x02;
    frame[12] = 0x88;
    frame[13] = 0xb5;
    REQUIRE(sender.send(frame));
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
    sluice::test::VethPair veth("swk");
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
