// Rules that can never match because an earlier rule matches everything
// they would are warned about, and only those.
#include <catch2/catch.hpp>

#include <string>

#include "control/policy/loader.hpp"
#include "control/policy/shadowing.hpp"

using namespace sluice::policy;

namespace {

// Seven lines of header; each case's rules start on line 8.
constexpr std::string_view kHeader = R"([upload]
rate = "10mbit"
[download]
rate = "10mbit"
[[meter]]
name = "m"
cir = "1mbit"
)";

std::vector<std::string> warnings(std::string_view rules) {
    std::string text = std::string(kHeader) + "cbs = \"10kb\"\n" + std::string(rules);
    const LoadResult r = load_string(text, "rules.toml");
    std::vector<std::string> out;
    for (const Diagnostic& d : r.diagnostics) {
        INFO(format(d));
        REQUIRE(d.severity == Diagnostic::Severity::warning);
        out.push_back(format(d));
    }
    return out;
}

}  // namespace

TEST_CASE("a rule inside an earlier, wider rule is reported at the later rule") {
    const auto w = warnings(R"([[rule]]
name = "lan-net"
src = "10.0.0.0/8"
set_dscp = 0
[[rule]]
name = "one-host"
src = "10.1.2.3"
protocol = "tcp"
set_dscp = 46
)");
    REQUIRE(w.size() == 1);
    CHECK(w[0] == "rules.toml:13:1: warning: rule \"one-host\" can never match: rule \"lan-net\" at line 9 matches "
                  "every packet it would; move it above that rule or remove it");
}

TEST_CASE("a narrower rule before a wider one is fine") {
    CHECK(warnings(R"([[rule]]
src = "10.1.2.3"
set_dscp = 46
[[rule]]
src = "10.0.0.0/8"
set_dscp = 0
)").empty());
}

TEST_CASE("field by field, covering needs every field to be at least as wide") {
    struct Case {
        const char* what;
        const char* earlier;
        const char* later;
        bool shadowed;
    } cases[] = {
        {"same match", "dscp = \"EF\"", "dscp = \"EF\"", true},
        {"dscp subset", "dscp = [\"AF41\", \"AF42\", \"AF43\"]", "dscp = \"AF42\"", true},
        {"dscp superset", "dscp = \"AF42\"", "dscp = [\"AF41\", \"AF42\"]", false},
        {"any dscp covers a set", "protocol = \"udp\"", "protocol = \"udp\"\ndscp = \"EF\"", true},
        {"port range covers a port", "protocol = \"tcp\"\ndst_port = \"1-1024\"", "protocol = \"tcp\"\ndst_port = 443", true},
        {"port lists merge before comparing", "protocol = \"tcp\"\ndst_port = [\"1-100\", \"101-200\"]",
         "protocol = \"tcp\"\ndst_port = \"50-150\"", true},
        {"ports partly outside", "protocol = \"tcp\"\ndst_port = \"1-100\"", "protocol = \"tcp\"\ndst_port = \"50-150\"", false},
        {"ports without protocol cover tcp ports", "dst_port = 53", "protocol = \"udp\"\ndst_port = 53", true},
        {"tcp does not cover udp", "protocol = \"tcp\"", "protocol = \"udp\"", false},
        {"side any covers lan", "dscp = 8", "side = \"lan\"\ndscp = 8", true},
        {"lan does not cover any", "side = \"lan\"\ndscp = 8", "dscp = 8", false},
        {"lan does not cover wan", "side = \"lan\"\ndscp = 8", "side = \"wan\"\ndscp = 8", false},
        {"IPv4 rule does not cover an any-version rule", "ip = 4", "protocol = \"udp\"", false},
        {"IPv6 prefix covers a longer one", "dst = \"2001:db8::/32\"", "dst = \"2001:db8:1::/48\"", true},
        {"every prefix of the later rule must be inside", "src = \"10.0.0.0/8\"",
         "src = [\"10.1.0.0/16\", \"192.168.0.0/16\"]", false},
        {"a list covers prefixes spread over it", "src = [\"10.0.0.0/8\", \"192.168.0.0/16\"]",
         "src = [\"10.1.0.0/16\", \"192.168.1.0/24\"]", true},
        {"vlan range covers a vlan", "vlan = \"100-199\"", "vlan = 150", true},
        {"vlan does not cover untagged", "vlan = \"0-4095\"", "dscp = 0", false},
        {"pcp set covers a pcp", "pcp = [\"4-7\"]", "pcp = 5", true},
        {"fragment", "fragment = true", "fragment = false", false},
        {"ethertype", "ethertype = \"lldp\"", "ethertype = \"lldp\"", true},
        {"ethertype ipv4 is ip 4", "ethertype = \"ipv4\"", "src = \"10.0.0.0/8\"", true},
    };
    for (const Case& c : cases) {
        SECTION(c.what) {
            const std::string rules = std::string("[[rule]]\n") + c.earlier + "\nset_dscp = 1\n[[rule]]\n" + c.later +
                                      "\nset_dscp = 2\n";
            const auto w = warnings(rules);
            CHECK(w.size() == (c.shadowed ? 1u : 0u));
        }
    }
}

TEST_CASE("the first covering rule is the one named") {
    const auto w = warnings(R"([[rule]]
name = "a"
dscp = "EF"
set_dscp = 46
[[rule]]
name = "b"
dscp = ["EF", "CS5"]
set_dscp = 40
[[rule]]
name = "c"
dscp = "EF"
meter = "m"
)");
    // b is fine (wider than a); c is covered by both, and a comes first.
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("rule \"c\" can never match: rule \"a\" at line 9") != std::string::npos);
}

TEST_CASE("ten thousand per-address rules are checked without comparing every pair") {
    std::string rules;
    for (int i = 0; i < 10'000; ++i) {
        rules += "[[rule]]\nsrc = \"10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24\"\nset_dscp = 0\n";
    }
    // One more, inside the first rule's /24: the only one that can never match.
    rules += "[[rule]]\nname = \"late\"\nsrc = \"10.0.0.7\"\nset_dscp = 0\n";
    const auto w = warnings(rules);
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("rule \"late\" can never match: rule \"rule-1\"") != std::string::npos);
}

TEST_CASE("covers() on hand-built matches") {
    Match any;
    Match tcp;
    tcp.protocol = 6;
    CHECK(covers(any, tcp));
    CHECK_FALSE(covers(tcp, any));
    Match pcp_any_untagged;
    Match pcp_tagged;
    pcp_tagged.pcp = 0x0f;
    CHECK_FALSE(covers(pcp_tagged, pcp_any_untagged));
    CHECK(covers(pcp_any_untagged, pcp_tagged));
}
