// sluiced's settings: defaults, the settings file, and the message for each
// kind of bad option.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "dataplane/eal.hpp"
#include "dataplane/options.hpp"

using namespace sluice::dataplane;

namespace {

sluice::Result<ParsedOptions> parse(std::vector<std::string> args, const std::string& settings = "/nonexistent") {
    std::vector<const char*> argv{"sluiced"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_options(static_cast<int>(argv.size()), argv.data(), settings);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("two ports and defaults for the rest") {
    auto r = parse({"--lan", "net_ring0", "--wan", "net_ring1"});
    REQUIRE(r.ok());
    CHECK(r->action == ParsedOptions::Action::run);
    CHECK(r->options.lan == "net_ring0");
    CHECK(r->options.burst == 32);
    CHECK(r->options.hugepages == HugepageMode::automatic);
    CHECK(r->options.idle_sleep);
    CHECK(r->options.idle_sleep_max_us == 250);
}

TEST_CASE("idle sleeping can be turned off or bounded, on the command line or in the file") {
    auto off = parse({"--lan", "a", "--wan", "b", "--idle-sleep", "off"});
    REQUIRE(off.ok());
    CHECK_FALSE(off->options.idle_sleep);
    const std::string path = "options_test_idle.conf";
    std::ofstream(path) << "lan = a\nwan = b\nidle-sleep = on\nidle-sleep-max-us = 1000\n";
    auto file = parse({"--config", path, "--show-config"});
    std::remove(path.c_str());
    REQUIRE(file.ok());
    CHECK(file->options.idle_sleep);
    CHECK(file->options.idle_sleep_max_us == 1000);
    CHECK(contains(file->text, "idle-sleep = on\nidle-sleep-max-us = 1000\n"));
}

TEST_CASE("arguments after -- go to the EAL") {
    auto r = parse({"--lan", "a", "--wan", "b", "--eal", "--huge-unlink", "--", "--log-color", "-v"});
    REQUIRE(r.ok());
    CHECK(r->options.eal_args == std::vector<std::string>{"--huge-unlink", "--log-color", "-v"});
}

TEST_CASE("every bad option gets a message that names it") {
    struct Case {
        std::vector<std::string> args;
        const char* message_part;
    };
    const std::vector<Case> cases = {
        {{"--wan", "b"}, "--lan is required"},
        {{"--lan", "a"}, "--wan is required"},
        {{"--lan", "a", "--wan", "a"}, "same port"},
        {{"--lan", "a", "--wan", "b", "--bogus"}, "unrecognised option '--bogus'"},
        {{"--lan", "a", "--wan", "b", "--burst", "0"}, "--burst must be 1-256"},
        {{"--lan", "a", "--wan", "b", "--burst", "many"}, "burst"},
        {{"--lan", "a", "--wan", "b", "--egress-queue", "1000"}, "power of two"},
        {{"--lan", "a", "--wan", "b", "--hugepages", "maybe"}, "auto, on or off"},
        {{"--lan", "a", "--wan", "b", "--log-level", "loud"}, "--log-level must be one of"},
        {{"--lan", "a", "--wan", "b", "--rx-descriptors", "8"}, "--rx-descriptors must be"},
        {{"--lan", "a", "--wan", "b", "--memory", "16"}, "--memory 16 MB is too little for these settings"},
        {{"--lan", "a", "--wan", "b", "--idle-sleep", "sometimes"}, "--idle-sleep must be on or off"},
        {{"--lan", "a", "--wan", "b", "--idle-sleep-max-us", "0"}, "--idle-sleep-max-us must be 1-100000"},
        {{"--lan", "a", "--wan", "b", "--idle-sleep-max-us", "200000"}, "--idle-sleep-max-us must be 1-100000"},
        {{"--lan"}, "lan"},
        {{"--config", "/nonexistent/sluiced.conf", "--lan", "a", "--wan", "b"}, "cannot read settings file"},
    };
    for (const auto& c : cases) {
        auto r = parse(c.args);
        INFO(c.message_part);
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error(), c.message_part));
    }
}

// Without hugepages every packet buffer takes a 4 KiB page of --memory: the
// defaults (1024 descriptors, an egress queue of 16384, two lcores) need
// 37,632 buffers, 147 MB, and a few MB beside them.
TEST_CASE("--memory is checked against what the settings need, and the message names the need and the options") {
    auto at = [](std::vector<std::string> extra) {
        std::vector<std::string> args{"--lan", "a", "--wan", "b"};
        args.insert(args.end(), extra.begin(), extra.end());
        return parse(args);
    };
    const uint32_t needed = memory_needed_mb(DaemonOptions{}, 2);
    CHECK(packet_pool_size(DaemonOptions{}, 2) == 37'632);
    CHECK(needed == 147 + 16);
    auto small = at({"--memory", "64"});
    REQUIRE_FALSE(small.ok());
    CHECK(contains(small.error(), "--memory 64 MB is too little"));
    CHECK(contains(small.error(), "need at least " + std::to_string(needed) + " MB"));
    CHECK(contains(small.error(), "give --memory " + std::to_string(needed) + " or more"));
    CHECK(contains(small.error(), "lower --egress-queue"));
    CHECK(at({"--memory", std::to_string(needed)}).ok());
    CHECK_FALSE(at({"--memory", std::to_string(needed - 1)}).ok());
    // Smaller queues need less: 64 MB is enough for an egress queue of 2048.
    CHECK(at({"--memory", "64", "--egress-queue", "2048"}).ok());
    CHECK_FALSE(at({"--memory", "64", "--egress-queue", "4096"}).ok());
    // More lcores, more per-lcore caches.
    CHECK(memory_needed_mb(DaemonOptions{}, 8) > needed);
    // With hugepages required, --memory is not used and not checked.
    CHECK(at({"--memory", "16", "--hugepages", "on"}).ok());
}

TEST_CASE("the lcore count follows --lcores") {
    auto count = [](const std::string& lcores) {
        DaemonOptions o;
        o.lcores = lcores;
        return lcore_count(o);
    };
    CHECK(count("") == 2);
    CHECK(count("0,1") == 2);
    CHECK(count("0@0,1@0") == 2);
    CHECK(count("0-3") == 4);
    CHECK(count("0,2-4") == 4);
    CHECK(count("(0-2)@1,3") == 4);
    CHECK(count("(0,1)@(2,3)") == 2);
}

TEST_CASE("the settings file fills what the command line leaves out") {
    const std::string path = "options_test_settings.conf";
    {
        std::ofstream f(path);
        f << "# test settings\nlan = net_pcap0,rx_pcap=a.pcap\nwan = net_pcap1,tx_pcap=b.pcap\n"
             "burst = 64\nlog-level = debug\neal = --huge-unlink\n";
    }
    SECTION("given with --config") {
        auto r = parse({"--config", path, "--burst", "16"});
        REQUIRE(r.ok());
        CHECK(r->options.lan == "net_pcap0,rx_pcap=a.pcap");
        CHECK(r->options.burst == 16);  // the command line wins
        CHECK(r->options.log_level == "debug");
        CHECK(r->options.config_file == path);
        CHECK(r->options.eal_args == std::vector<std::string>{"--huge-unlink"});
    }
    SECTION("found at the default path") {
        auto r = parse({}, path);
        REQUIRE(r.ok());
        CHECK(r->options.wan == "net_pcap1,tx_pcap=b.pcap");
    }
    SECTION("an unknown key in the file names the file") {
        std::ofstream(path, std::ios::app) << "colour = blue\n";
        auto r = parse({"--config", path});
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error(), path));
        CHECK(contains(r.error(), "colour"));
    }
    std::remove(path.c_str());
}

TEST_CASE("management taps are named on the command line or in the file, and bad names are refused") {
    auto r = parse({"--lan", "0000:03:00.0", "--wan", "0000:03:00.1", "--management-tap-lan", "mgmt-lan"});
    REQUIRE(r.ok());
    CHECK(r->options.management_tap_lan == "mgmt-lan");
    CHECK(r->options.management_tap_wan.empty());

    const std::string path = "/tmp/sluice-options-tap-" + std::to_string(::getpid()) + ".conf";
    std::ofstream(path) << "lan = 0000:03:00.0\nwan = 0000:03:00.1\nmanagement-tap-wan = mgmt-wan\n";
    auto file = parse({"--config", path, "--show-config"});
    std::remove(path.c_str());
    REQUIRE(file.ok());
    CHECK(file->options.management_tap_wan == "mgmt-wan");
    CHECK(contains(file->text, "management-tap-wan = mgmt-wan"));
    CHECK(contains(file->text, "management-tap-lan = (none)"));

    const auto refused = [](std::vector<std::string> extra) {
        std::vector<std::string> args{"--lan", "a", "--wan", "b"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto p = parse(args);
        REQUIRE_FALSE(p.ok());
        return p.error();
    };
    CHECK(refused({"--management-tap-lan", "a-name-of-16-chr"}) ==
          "--management-tap-lan: 'a-name-of-16-chr' is 16 characters long; interface names have at most 15");
    CHECK(contains(refused({"--management-tap-wan", "eth0:1"}), "--management-tap-wan: 'eth0:1' holds a character"));
    CHECK(contains(refused({"--management-tap-wan", "a/b"}), "holds a character"));
    CHECK(contains(refused({"--management-tap-wan", "a b"}), "holds a character"));
    CHECK(refused({"--management-tap-lan", ".."}) == "--management-tap-lan: '..' is not an interface name");
    CHECK(refused({"--management-tap-lan", "m0", "--management-tap-wan", "m0"}) ==
          "--management-tap-lan and --management-tap-wan both name m0; each port needs its own");
}

TEST_CASE("help, version and the effective settings") {
    auto h = parse({"--help"});
    REQUIRE(h.ok());
    CHECK(h->action == ParsedOptions::Action::help);
    CHECK(contains(h->text, "--lan DEVARGS"));
    auto v = parse({"--version"});
    REQUIRE(v.ok());
    CHECK(contains(v->text, SLUICE_VERSION));
    auto s = parse({"--show-config", "--lan", "x", "--wan", "y", "--burst", "8"});
    REQUIRE(s.ok());
    CHECK(contains(s->text, "burst = 8"));
}

TEST_CASE("EAL arguments follow the ports and the memory mode") {
    DaemonOptions o;
    o.lan = "net_af_packet0,iface=lan0";
    o.wan = "0000:03:00.1";
    o.lcores = "0,1";
    const auto huge = eal_arguments(o, true);
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    CHECK(has(huge, "--vdev"));
    CHECK(has(huge, "-a"));
    CHECK(has(huge, "--in-memory"));
    CHECK_FALSE(has(huge, "--no-pci"));
    CHECK_FALSE(has(huge, "--no-huge"));

    o.wan = "net_ring1";
    const auto small = eal_arguments(o, false);
    CHECK(has(small, "--no-pci"));
    CHECK(has(small, "--no-huge"));
    CHECK(has(small, "--no-shconf"));
    CHECK_FALSE(has(small, "--in-memory"));

    CHECK(is_pci_address("01:00.0"));
    CHECK(is_pci_address("0000:af:00.7,rxq=2"));
    CHECK_FALSE(is_pci_address("net_pcap0,rx_pcap=x"));
    CHECK(device_name("net_af_xdp0,iface=wan0") == "net_af_xdp0");
}

TEST_CASE("--workers sets the workers per direction, checked against the lcores") {
    auto r = parse({"--lan", "a", "--wan", "b"});
    REQUIRE(r.ok());
    CHECK(r->options.workers == 1);
    r = parse({"--lan", "a", "--wan", "b", "--workers", "2", "--lcores", "0,1,2"});
    REQUIRE(r.ok());
    CHECK(r->options.workers == 2);
    // Without --lcores there is one lcore per worker beside the control thread.
    r = parse({"--lan", "a", "--wan", "b", "--workers", "3", "--hugepages", "on"});
    REQUIRE(r.ok());
    CHECK(lcore_count(r->options) == 4);
    const auto eal = eal_arguments(r->options, true);
    REQUIRE(eal.size() > 2);
    CHECK(std::count(eal[2].begin(), eal[2].end(), '@') == 4);

    auto bad = parse({"--lan", "a", "--wan", "b", "--workers", "0"});
    REQUIRE(!bad.ok());
    CHECK(contains(bad.error(), "--workers must be 1-16"));
    bad = parse({"--lan", "a", "--wan", "b", "--workers", "17"});
    REQUIRE(!bad.ok());
    bad = parse({"--lan", "a", "--wan", "b", "--workers", "3", "--lcores", "0,1,2"});
    REQUIRE(!bad.ok());
    CHECK(contains(bad.error(), "--workers 3 needs at least 4 lcores"));

    const std::string path = "/tmp/sluice-options-workers-" + std::to_string(getpid()) + ".conf";
    std::ofstream(path) << "lan = a\nwan = b\nworkers = 2\n";
    auto file = parse({"--show-config"}, path);
    std::remove(path.c_str());
    REQUIRE(file.ok());
    CHECK(file->options.workers == 2);
    CHECK(contains(file->text, "workers = 2\n"));
}

TEST_CASE("more workers need more packet buffers: their rings, queues and hand-offs") {
    auto one = parse({"--lan", "a", "--wan", "b"});
    auto two = parse({"--lan", "a", "--wan", "b", "--workers", "2", "--memory", "2048"});
    REQUIRE(one.ok());
    REQUIRE(two.ok());
    CHECK(packet_pool_size(two->options, 3) > 2 * packet_pool_size(one->options, 3));
}
