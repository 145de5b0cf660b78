// What a valid policy compiles to: resolved numbers, normalised rules and
// the warnings that come with a policy that still loads.
#include <catch2/catch.hpp>

#include <string>
#include <type_traits>

#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"

using namespace sluice::policy;

namespace {

std::shared_ptr<const Policy> load_ok(const std::string& text) {
    const LoadResult r = load_string(text, "t.toml");
    std::string messages;
    for (const Diagnostic& d : r.diagnostics) messages += format(d) + "\n";
    INFO(messages);
    REQUIRE(r.ok());
    REQUIRE(r.diagnostics.empty());
    return r.policy;
}

std::vector<std::string> warnings_of(const std::string& text) {
    const LoadResult r = load_string(text, "t.toml");
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const Diagnostic& d : r.diagnostics) out.push_back(format(d));
    return out;
}

constexpr std::string_view kLinks = "[upload]\nrate = \"100mbit\"\n[download]\nrate = \"100mbit\"\n";

}  // namespace

TEST_CASE("the loaded policy is shared read-only") {
    static_assert(std::is_same_v<decltype(LoadResult::policy), std::shared_ptr<const Policy>>);
    const auto p = load_ok(std::string(kLinks));
    CHECK(p->rules.empty());
}

TEST_CASE("ids follow file order, children and defaults are resolved") {
    const auto p = load_ok(std::string("[upload]\nrate = \"100mbit\"\ndefault_class = \"child\"\n") + R"(
[[upload.class]]
name = "child"
parent = "sub"
rate = "25%"
ceil = "50%"
[[upload.class]]
name = "sub"
rate = "40mbit"
ceil = "80mbit"
[download]
rate = "100mbit"
)");
    const ClassTree& up = p->tree(Direction::upload);
    REQUIRE(up.classes.size() == 3);
    const Class& child = up.classes[1];
    const Class& sub = up.classes[2];
    CHECK(child.name == "child");
    CHECK(child.parent == 2);
    CHECK(child.depth == 2);
    CHECK(child.rate == 40'000'000 / 8 / 4);
    CHECK(child.ceil == 80'000'000 / 8 / 2);
    CHECK(sub.children == std::vector<uint32_t>{1});
    CHECK(up.classes[0].children == std::vector<uint32_t>{2});
    CHECK(up.default_class == 1);
    // Defaults: a millisecond at the rate plus one full frame.
    CHECK(child.burst == 1'250'000 / 1'000 + 1'514);
    CHECK(child.cburst == 5'000'000 / 1'000 + 1'514);
    CHECK(child.priority == 4);
    CHECK(child.weight == 1);
    CHECK(child.queue.kind == QueueKind::codel);
    CHECK(child.queue.limit_packets == 1'000);
    CHECK(child.queue.target_us == 5'000);
    CHECK(child.queue.interval_us == 100'000);
}

TEST_CASE("ceil defaults to the parent's ceil") {
    const auto p = load_ok(std::string("[upload]\nrate = \"100mbit\"\ndefault_class = \"c\"\n") + R"(
[[upload.class]]
name = "p"
rate = "10mbit"
ceil = "20mbit"
[[upload.class]]
name = "c"
parent = "p"
rate = "1mbit"
[download]
rate = "1mbit"
)");
    CHECK(p->tree(Direction::upload).classes[2].ceil == 2'500'000);
}

TEST_CASE("overhead can be written out as numbers") {
    const auto p = load_ok(R"([upload]
rate = "20mbit"
overhead = { bytes = 18, mpu = 64, framing = "atm" }
[download]
rate = "20mbit"
overhead = "pppoe-vdsl"
)");
    const Overhead& up = p->tree(Direction::upload).link.overhead;
    CHECK(up.bytes == 18);
    CHECK(up.mpu == 64);
    CHECK(up.framing == Framing::atm);
    CHECK(up.preset.empty());
    const Overhead& down = p->tree(Direction::download).link.overhead;
    CHECK(down.bytes == 16);
    CHECK(down.framing == Framing::ptm);
    CHECK(down.preset == "pppoe-vdsl");
}

TEST_CASE("a rule with IPv4 and IPv6 prefixes keeps both; one family sets ip_version") {
    const auto p = load_ok(std::string(kLinks) + R"(
[[rule]]
src = ["10.1.0.0/16", "10.0.0.0/8", "10.2.3.0/24", "fd00::/8"]
set_dscp = 0
[[rule]]
dst = "2001:db8::/32"
protocol = "tcp"
dst_port = [443, "80-90", 91, "8000-8080", 8080]
dscp = ["AF41", "8-10", 63]
vlan = "100-110"
pcp = [5, "6-7"]
fragment = false
set_dscp = "CS1"
)");
    REQUIRE(p->rules.size() == 2);
    const Match& a = p->rules[0].match;
    CHECK(a.ip_version == 0);
    REQUIRE(a.src.size() == 2);
    CHECK(a.src[0].version == 4);
    CHECK(a.src[0].length == 8);
    CHECK(a.src[1].version == 6);
    const Match& b = p->rules[1].match;
    CHECK(b.ip_version == 6);
    CHECK(b.protocol == 6);
    CHECK(b.dst_ports == std::vector<Range>{{80, 91}, {443, 443}, {8000, 8080}});
    CHECK(b.dscp == ((1ull << 34) | (1ull << 8) | (1ull << 9) | (1ull << 10) | (1ull << 63)));
    CHECK(b.vlan == Range{100, 110});
    CHECK(b.pcp == 0xe0);
    CHECK(b.fragment == FragmentMatch::not_fragment);
    CHECK(p->rules[1].action.set_dscp == 8);
    CHECK(p->rules[1].action.class_id[0] == kNoClass);
}

TEST_CASE("meters keep their kind, mode and colour actions") {
    const auto p = load_ok(std::string(kLinks) + R"(
[[meter]]
name = "m"
mode = "color-aware"
cir = "8mbit"
cbs = "10kb"
yellow = "remark"
yellow_dscp = "AF12"
)");
    REQUIRE(p->meters.size() == 1);
    const Meter& m = p->meters[0];
    CHECK(m.kind == MeterKind::srtcm);
    CHECK(m.mode == ColourMode::aware);
    CHECK(m.cir == 1'000'000);
    CHECK(m.cbs == 10'240);
    CHECK(m.ebs == 10'240);
    CHECK(m.yellow.verdict == Verdict::remark);
    CHECK(m.yellow.dscp == 12);
    CHECK(m.red.verdict == Verdict::drop);
}

TEST_CASE("a packet-rate meter counts packets per second and bursts in packets") {
    const auto p = load_ok(std::string(kLinks) + R"(
[[meter]]
name = "syn"
unit = "packets"
kind = "trtcm"
cir = "2kpps"
cbs = "32pkts"
pir = 5000
pbs = 64
)");
    REQUIRE(p->meters.size() == 1);
    const Meter& m = p->meters[0];
    CHECK(m.unit == MeterUnit::packets);
    CHECK(m.cir == 2'000);
    CHECK(m.cbs == 32);
    CHECK(m.pir == 5'000);
    CHECK(m.pbs == 64);
    CHECK(dump(*p).find("unit=packets cir=2000 cbs=32 pir=5000 pbs=64") != std::string::npos);
}

TEST_CASE("warnings come with a policy that still loads") {
    const auto w = warnings_of(std::string(kLinks) + R"(
[[rule]]
side = "lan"
download_class = "root"
set_dscp = 0
[[rule]]
name = "nothing"
dscp = 1
)");
    REQUIRE(w.size() == 2);
    CHECK(w[0] == "t.toml:8:18: warning: download_class has no effect: a rule for side = \"lan\" sees only upload traffic");
    CHECK(w[1] == "t.toml:10:1: warning: rule \"nothing\" has no action; the packets it matches go to the default "
                  "classes and no later rule sees them");
}

TEST_CASE("priority and queue keys on a class with children are warned about") {
    const auto w = warnings_of(R"([upload]
rate = "10mbit"
default_class = "c"
[[upload.class]]
name = "p"
rate = "5mbit"
priority = 1
queue = "fifo"
[[upload.class]]
name = "c"
parent = "p"
rate = "1mbit"
[download]
rate = "10Mbps"
)");
    REQUIRE(w.size() == 3);
    CHECK(w[0] == "t.toml:7:12: warning: priority of \"p\" has no effect: it has child classes, and priorities apply to leaves");
    CHECK(w[1] == "t.toml:8:9: warning: queue settings of \"p\" have no effect: it has child classes, and only leaves hold queues");
    CHECK(w[2] == "t.toml:14:8: warning: rate: \"10Mbps\" is 10 megabytes per second (80mbit), as in tc; write \"10mbit\" "
                  "for megabits per second, or \"10MBps\" to keep bytes without this warning");
}

// tc reads "mbps" as megabytes per second in any case; lowercase is what
// people type for megabits, so it warns as "Mbps" does, with the bit rate.
TEST_CASE("a rate in lowercase mbps loads as tc reads it, with a warning giving the bit rate") {
    const auto w = warnings_of(R"([upload]
rate = "100mbit"
default_class = "c"
[[upload.class]]
name = "c"
rate = "2mbps"
[download]
rate = "10mbit"
)");
    REQUIRE(w.size() == 1);
    CHECK(w[0] == "t.toml:6:8: warning: rate: \"2mbps\" is 2 megabytes per second (16mbit), as in tc; write \"2mbit\" "
                  "for megabits per second, or \"2MBps\" to keep bytes without this warning");
}

TEST_CASE("the dump is the same for two spellings of the same policy") {
    const auto a = load_ok(std::string(kLinks) + "[[rule]]\nsrc = [\"10.0.0.0/8\", \"10.1.0.0/16\"]\ndscp = [\"EF\"]\nset_dscp = 0\n");
    const auto b = load_ok("[download]\nrate = \"12500kBps\"\n[upload]\nrate = \"0.1gbit\"\n"
                           "[[rule]]\ndscp = 46\nsrc = \"10.0.0.0/8\"\nset_dscp = \"CS0\"\n");
    CHECK(dump(*a) == dump(*b));
}

TEST_CASE("a lan-only rule needs its class only in the upload tree") {
    const auto p = load_ok(R"([upload]
rate = "10mbit"
default_class = "up-only"
[[upload.class]]
name = "up-only"
rate = "1mbit"
[download]
rate = "10mbit"
[[rule]]
side = "lan"
class = "up-only"
)");
    REQUIRE(p->rules.size() == 1);
    CHECK(p->rules[0].action.class_id[0] == 1);
    CHECK(p->rules[0].action.class_id[1] == kNoClass);
}

TEST_CASE("management addresses are normalised and services keep their ports") {
    const LoadResult r = load_string(std::string(kLinks) + R"(
[management]
addresses = ["192.168.1.1", "192.168.0.0/16", "fd00::1"]
[[management.service]]
protocol = "tcp"
ports = [443, 22, 23]
[[management.service]]
protocol = "icmp"
)", "t.toml");
    REQUIRE(r.ok());
    CHECK(r.diagnostics.empty());
    const Management& m = r.policy->management;
    REQUIRE(m.addresses.size() == 2);  // the host is inside the /16
    CHECK(m.addresses[0].length == 16);
    CHECK(m.addresses[1].version == 6);
    CHECK(m.addresses[1].length == 128);
    REQUIRE(m.services.size() == 2);
    CHECK(m.services[0].protocol == 6);
    CHECK(m.services[0].ports == std::vector<Range>{{22, 23}, {443, 443}});
    CHECK(m.services[1].protocol == 1);
    CHECK(m.services[1].ports.empty());
}

TEST_CASE("a class can re-mark and a rule can police with a meter by name") {
    const auto p = load_ok(R"([upload]
rate = "10mbit"
default_class = "guest"
[[upload.class]]
name = "guest"
rate = "1mbit"
set_dscp = "CS1"
[download]
rate = "10mbit"
[[meter]]
name = "first"
cir = "1mbit"
cbs = "10kb"
[[meter]]
name = "second"
kind = "trtcm"
cir = "1mbit"
cbs = "10kb"
pir = "2mbit"
pbs = "20kb"
red = "remark"
red_dscp = 0
[[rule]]
src = "10.9.0.0/16"
meter = "second"
)");
    CHECK(p->tree(Direction::upload).classes[1].set_dscp == 8);
    REQUIRE(p->rules.size() == 1);
    CHECK(p->rules[0].action.meter == 1);
    CHECK(p->meters[1].red.verdict == Verdict::remark);
    CHECK(p->meters[1].pir == 250'000);
}
