// [management] ethertypes, the section without addresses, and the policy
// compiled into the filter the XDP program and the exception path take.
#include <catch2/catch.hpp>

#include <string>

#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"
#include "control/policy/management_filter.hpp"
#include "control/policy/toml_writer.hpp"

using namespace sluice::policy;
using Filter = sluice::dataplane::ManagementFilter;

namespace {

constexpr std::string_view kLinks = "[upload]\nrate = \"100mbit\"\n[download]\nrate = \"100mbit\"\n";  // lines 1-4

LoadResult load(const std::string& management) { return load_string(std::string(kLinks) + management, "t.toml"); }

std::string first_error(const LoadResult& r) {
    for (const auto& d : r.diagnostics)
        if (d.severity == Diagnostic::Severity::error) return format(d);
    return "";
}

Filter::Prefix prefix(std::initializer_list<uint8_t> bytes, uint8_t length) {
    Filter::Prefix p;
    size_t i = 0;
    for (uint8_t b : bytes) p.addr[i++] = b;
    p.length = length;
    return p;
}

}  // namespace

TEST_CASE("management ethertypes are read sorted without duplicates, and need no addresses") {
    const LoadResult r = load("[management]\nethertypes = [0x88cc, 0x8809, 0x88cc]\n");
    for (const auto& d : r.diagnostics) UNSCOPED_INFO(format(d));
    REQUIRE(r.ok());
    CHECK(r.policy->management.ethertypes == std::vector<uint16_t>{0x8809, 0x88cc});
    CHECK(r.policy->management.addresses.empty());
    CHECK(dump(*r.policy).find("management ethertype 0x88cc\n") != std::string::npos);
}

TEST_CASE("bad management ethertypes are refused at their line and column") {
    struct Case {
        const char* what;
        std::string text;
        std::string error;
    };
    const Case cases[] = {
        {"below 0x0600 (a length, not a type)", "[management]\nethertypes = [0x88cc, 1500]\n",
         "t.toml:6:23: error: ethertypes: 1500 (0x05dc) is not an ethertype (0x0600 to 0xffff), e.g. 0x88cc for LLDP"},
        {"above 0xffff", "[management]\nethertypes = [0x10000]\n",
         "t.toml:6:15: error: ethertypes: 65536 (0x10000) is not an ethertype (0x0600 to 0xffff), e.g. 0x88cc for LLDP"},
        {"negative", "[management]\nethertypes = [-1]\n",
         "t.toml:6:15: error: ethertypes: -1 (negative) is not an ethertype (0x0600 to 0xffff), e.g. 0x88cc for LLDP"},
        {"a string", "[management]\nethertypes = [\"lldp\"]\n",
         "t.toml:6:15: error: ethertypes: write ethertypes as numbers, e.g. ethertypes = [0x88cc], not a string"},
        {"not a list", "[management]\nethertypes = 0x88cc\n",
         "t.toml:6:14: error: ethertypes must be a list of ethertypes, e.g. ethertypes = [0x88cc], not an integer"},
        {"IPv4 would take every IPv4 frame", "[management]\nethertypes = [0x0800]\n",
         "t.toml:6:15: error: ethertypes: 0x0800 is IPv4, which would send every such frame to the kernel; list the "
         "gateway's addresses in addresses instead (ARP and neighbour discovery for them follow)"},
        {"a VLAN tag never matches", "[management]\nethertypes = [0x8100]\n",
         "t.toml:6:15: error: ethertypes: 0x8100 is a VLAN tag, which would send every such frame to the kernel; "
         "list the gateway's addresses in addresses instead (ARP and neighbour discovery for them follow)"},
        {"neither addresses nor ethertypes", "[management]\n[[management.service]]\nprotocol = \"tcp\"\n",
         "t.toml:5:1: error: [management] needs addresses: the gateway's own addresses, e.g. addresses = "
         "[\"192.168.1.2\", \"fd00::2\"]"},
        {"services with ethertypes but no addresses",
         "[management]\nethertypes = [0x88cc]\n[[management.service]]\nprotocol = \"tcp\"\n",
         "t.toml:5:1: error: [management] needs addresses: the gateway's own addresses, e.g. addresses = "
         "[\"192.168.1.2\", \"fd00::2\"]"},
    };
    for (const Case& c : cases) {
        SECTION(c.what) {
            const LoadResult r = load(c.text);
            CHECK_FALSE(r.ok());
            CHECK(first_error(r) == c.error);
        }
    }
}

TEST_CASE("management ethertypes survive policy save, with and without addresses") {
    for (const std::string& text : {std::string("[management]\nethertypes = [0x88cc, 0x8809]\n"),
                                   std::string("[management]\naddresses = [\"10.0.0.1\"]\nethertypes = [0x88cc]\n"
                                               "[[management.service]]\nprotocol = \"tcp\"\nports = [22]\n")}) {
        INFO(text);
        const LoadResult original = load(text);
        REQUIRE(original.ok());
        const std::string written = to_toml(*original.policy);
        CHECK(written.find("ethertypes = [0x8") != std::string::npos);
        const LoadResult again = load_string(written, "written.toml");
        REQUIRE(again.ok());
        CHECK(again.policy->management.ethertypes == original.policy->management.ethertypes);
        CHECK(dump(*again.policy) == dump(*original.policy));
        CHECK(to_toml(*again.policy) == written);
    }
}

TEST_CASE("an IPv4 management address compiles to ::ffff:a.b.c.d with 96 added to its length") {
    const LoadResult r = load("[management]\naddresses = [\"192.168.1.2\", \"10.0.0.0/8\"]\n");
    REQUIRE(r.ok());
    const Filter f = compile_management(r.policy->management);
    // Normalised order: 10.0.0.0/8 first.
    REQUIRE(f.addresses.size() == 2);
    CHECK(f.addresses[0] == prefix({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0}, 104));
    CHECK(f.addresses[1] == prefix({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2}, 128));
    CHECK(f.services.empty());
    CHECK(f.ethertypes.empty());
}

TEST_CASE("an IPv6 management prefix compiles unchanged") {
    const LoadResult r = load("[management]\naddresses = [\"fd00:1::/64\", \"2001:db8::1\"]\n");
    REQUIRE(r.ok());
    const Filter f = compile_management(r.policy->management);
    REQUIRE(f.addresses.size() == 2);
    CHECK(f.addresses[0] == prefix({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128));
    CHECK(f.addresses[1] == prefix({0xfd, 0x00, 0x00, 0x01}, 64));
}

TEST_CASE("management services compile to one entry per port range, protocols without ports to 0..0") {
    const LoadResult r = load(R"([management]
addresses = ["192.168.1.2"]
ethertypes = [0x88cc]
[[management.service]]
protocol = "tcp"
ports = [22, 443, 9100, 9101, 9102]
[[management.service]]
protocol = "icmp"
[[management.service]]
protocol = "udp"
)");
    REQUIRE(r.ok());
    const Filter f = compile_management(r.policy->management);
    CHECK(f.services == std::vector<Filter::Service>{
                            {6, 22, 22}, {6, 443, 443}, {6, 9100, 9102}, {1, 0, 0}, {17, 0, 0}});
    CHECK(f.ethertypes == std::vector<uint16_t>{0x88cc});
}

TEST_CASE("an empty management section compiles to an empty filter") {
    CHECK(compile_management(Management{}).empty());
}
