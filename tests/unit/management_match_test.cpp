// The exception path's matcher: the shared table of frames
// (tests/support/management_cases.hpp, which the XDP program's test runs
// too) gets the same verdicts here, so both enforcers hand the kernel the
// same frames; filters beyond the XDP maps' bounds are refused; no frame,
// cut anywhere, is read past its end.
#include <catch2/catch.hpp>

#include "dataplane/management_match.hpp"
#include "dataplane/parser.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/management_cases.hpp"

using namespace sluice;
namespace mc = sluice::test::management;

namespace {

std::shared_ptr<const dataplane::ManagementMatch> compiled(const dataplane::ManagementFilter& f) {
    auto m = dataplane::ManagementMatch::compile(f);
    REQUIRE(m.ok());
    return *m;
}

bool to_kernel(const dataplane::ManagementMatch& m, const test::Bytes& frame) {
    dataplane::PacketMeta meta;
    dataplane::parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), meta);
    return m.matches(meta, frame.data(), static_cast<uint32_t>(frame.size()));
}

}  // namespace

TEST_CASE("the matcher gives every shared case the XDP program's verdict") {
    const auto filters = mc::filters();
    std::vector<std::shared_ptr<const dataplane::ManagementMatch>> matchers;
    for (const auto& f : filters) matchers.push_back(compiled(f.filter));
    for (const auto& c : mc::cases()) {
        INFO(c.name << " (filter: " << filters[c.filter].name << ")");
        CHECK(to_kernel(*matchers[c.filter], c.frame) == c.to_kernel);
    }
}

TEST_CASE("an empty filter sends nothing to the kernel") {
    const auto m = compiled({});
    CHECK(m->empty());
    CHECK_FALSE(to_kernel(*m, mc::udp4_to(mc::kOwn, 161)));
    CHECK_FALSE(to_kernel(*m, mc::arp_for(mc::kOwn)));
    // Services alone name no address: still empty.
    CHECK(compiled({{}, {{6, 22, 22}}, {}})->empty());
    CHECK_FALSE(compiled({{}, {}, {0x88cc}})->empty());
}

TEST_CASE("prefixes of many lengths, overlapping service ranges and duplicates compile to the same answers") {
    dataplane::ManagementFilter f;
    f.addresses = {mc::v4("10.0.0.0", 8), mc::v4("10.1.2.3", 32), mc::v4("10.1.2.3", 32), mc::v4("192.0.2.128", 25),
                   mc::v6("2001:db8:1::", 48), mc::v6("fd00::1", 128)};
    f.services = {{17, 100, 200}, {17, 150, 300}, {17, 301, 310}, {6, 22, 22}, {6, 22, 22}};
    const auto m = compiled(f);
    CHECK(to_kernel(*m, mc::udp4_to({10, 200, 0, 1}, 100)));
    CHECK(to_kernel(*m, mc::udp4_to({10, 1, 2, 3}, 310)));
    CHECK(to_kernel(*m, mc::udp4_to({192, 0, 2, 200}, 250)));
    CHECK_FALSE(to_kernel(*m, mc::udp4_to({192, 0, 2, 100}, 250)));
    CHECK_FALSE(to_kernel(*m, mc::udp4_to({10, 1, 2, 3}, 311)));
    CHECK_FALSE(to_kernel(*m, mc::udp4_to({10, 1, 2, 3}, 99)));
    CHECK(to_kernel(*m, mc::tcp4_to({10, 9, 9, 9}, 22)));
    CHECK_FALSE(to_kernel(*m, mc::tcp4_to({11, 0, 0, 1}, 22)));
    CHECK(to_kernel(*m, mc::udp6_to("2001:db8:1:ffff::9", 200)));
    CHECK_FALSE(to_kernel(*m, mc::udp6_to("2001:db8:2::9", 200)));
    CHECK(to_kernel(*m, mc::udp6_to("fd00::1", 150)));
    CHECK_FALSE(to_kernel(*m, mc::udp6_to("fd00::2", 150)));
    // Host bits written in a prefix are ignored, as the XDP trie ignores them.
    CHECK(to_kernel(*compiled({{mc::v4("203.0.113.99", 24)}, {}, {}}), mc::udp4_to(mc::kInPrefix, 1)));
    // A zero-length IPv6 prefix covers every address, IPv4-mapped ones too.
    CHECK(to_kernel(*compiled({{mc::v6("::", 0)}, {}, {}}), mc::udp4_to(mc::kOther, 1)));
}

TEST_CASE("filters the XDP maps could not hold, and impossible ones, are refused with the reason") {
    dataplane::ManagementFilter f;
    f.addresses.assign(dataplane::ManagementMatch::kMaxAddresses + 1, mc::v4("192.0.2.1", 32));
    auto r = dataplane::ManagementMatch::compile(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "management: 1025 addresses, at most 1024");

    f = {};
    f.ethertypes.assign(dataplane::ManagementMatch::kMaxEthertypes + 1, 0x88cc);
    r = dataplane::ManagementMatch::compile(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "management: 65 ethertypes, at most 64");

    f = {};
    f.addresses = {mc::v4("192.0.2.1", 32)};
    f.addresses[0].length = 129;
    r = dataplane::ManagementMatch::compile(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "management: prefix length 129 is over 128");

    f = {};
    f.services = {{6, 0, 80}};
    r = dataplane::ManagementMatch::compile(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("protocol 6 ports 0..80") != std::string::npos);
    f.services = {{6, 90, 80}};
    CHECK_FALSE(dataplane::ManagementMatch::compile(f).ok());
}

TEST_CASE("no frame of the table, cut anywhere, is read past its end") {
    test::GuardedBuffer buffer;
    const auto filters = mc::filters();
    for (const auto& c : mc::cases()) {
        const auto m = compiled(filters[c.filter].filter);
        for (size_t n = 0; n <= c.frame.size(); ++n) {
            const uint8_t* at = buffer.place(c.frame, n);
            dataplane::PacketMeta meta;
            dataplane::parse_frame(at, static_cast<uint32_t>(n), meta);
            (void)m->matches(meta, at, static_cast<uint32_t>(n));
        }
        // Only the first bytes in one piece: ARP and neighbour targets past
        // them are not read, and such a frame is not the kernel's.
        for (size_t n = 14; n < c.frame.size(); ++n) {
            const uint8_t* at = buffer.place(c.frame, n);
            dataplane::PacketMeta meta;
            dataplane::parse_frame(at, static_cast<uint32_t>(n), static_cast<uint32_t>(c.frame.size()), meta);
            (void)m->matches(meta, at, static_cast<uint32_t>(n));
        }
    }
    SUCCEED("no fault");
}
