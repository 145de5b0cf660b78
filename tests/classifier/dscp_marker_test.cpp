// DSCP re-marking rewrites only the DSCP bits, keeps ECN, and leaves a valid
// IPv4 header checksum, also behind VLAN tags.
#include <catch2/catch.hpp>

#include <random>

#include "classifier/dscp_marker.hpp"
#include "dataplane/parser.hpp"
#include "tests/support/frame_builder.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

uint16_t header_checksum_of(const uint8_t* ip, unsigned ihl) {
    uint32_t acc = 0;
    for (unsigned i = 0; i < ihl; i += 2) acc += static_cast<uint32_t>((ip[i] << 8) | ip[i + 1]);
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(acc);  // 0xffff when the checksum is right
}

}  // namespace

TEST_CASE("IPv4 re-marking keeps ECN and the header checksum valid") {
    std::mt19937 rng(1624);
    for (int i = 0; i < 5000; ++i) {
        Ipv4Spec ip;
        ip.tos = static_cast<uint8_t>(rng());
        ip.ttl = static_cast<uint8_t>(rng());
        ip.id = static_cast<uint16_t>(rng());
        for (auto& b : ip.src) b = static_cast<uint8_t>(rng());
        if (i % 3 == 0) ip.options = {0x94, 0x04, 0x00, 0x00};
        Bytes f = i % 2 ? udp4_frame(1, 2, ip.tos, {{0x8100, 7}}) : ethernet(0x0800, ipv4_datagram(ip, udp(1, 2)));
        dataplane::PacketMeta meta;
        dataplane::parse_frame(f.data(), static_cast<uint32_t>(f.size()), meta);
        REQUIRE(meta.error == dataplane::ParseError::none);
        const uint8_t ecn = meta.ecn();
        const auto dscp = static_cast<uint8_t>(rng() % 64);
        uint8_t* l3 = f.data() + meta.l3_offset;
        classifier::set_dscp(l3, meta, dscp);
        INFO("case " << i << " dscp " << int(dscp));
        CHECK(meta.dscp() == dscp);
        CHECK(meta.ecn() == ecn);
        CHECK(l3[1] == ((dscp << 2) | ecn));
        CHECK(header_checksum_of(l3, (l3[0] & 0xf) * 4u) == 0xffff);
    }
}

TEST_CASE("IPv6 re-marking rewrites the traffic class and nothing else") {
    for (unsigned tclass : {0x00u, 0x03u, 0xb9u, 0xffu}) {
        for (uint8_t dscp : {0, 10, 46, 63}) {
            Ipv6Spec ip;
            ip.traffic_class = static_cast<uint8_t>(tclass);
            ip.flow_label = 0xabcde;
            Bytes f = ethernet(0x86dd, ipv6_datagram(ip, udp(1, 2), 17, 0), {{0x88a8, 1}, {0x8100, 2}});
            const Bytes before = f;
            dataplane::PacketMeta meta;
            dataplane::parse_frame(f.data(), static_cast<uint32_t>(f.size()), meta);
            REQUIRE(meta.l3_offset == 22);
            classifier::set_dscp(f.data() + meta.l3_offset, meta, dscp);
            // Parse again: the frame itself carries the new mark.
            dataplane::PacketMeta again;
            dataplane::parse_frame(f.data(), static_cast<uint32_t>(f.size()), again);
            CHECK(again.dscp() == dscp);
            CHECK(again.ecn() == (tclass & 3));
            const uint8_t* l3 = f.data() + 22;
            CHECK((l3[0] >> 4) == 6);
            CHECK((((l3[1] & 0x0f) << 16) | (l3[2] << 8) | l3[3]) == 0xabcde);
            for (size_t i = 0; i < f.size(); ++i) {
                if (i == 22 || i == 23) continue;
                REQUIRE(f[i] == before[i]);
            }
        }
    }
}
