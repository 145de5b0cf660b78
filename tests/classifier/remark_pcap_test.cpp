// Re-marking and policing through real net_pcap ports, checked by an
// independent decoder: the classify stage runs on a worker lcore between two
// pcap ports, and tshark reads what came out (DSCP, ECN, checksums).
#include <catch2/catch.hpp>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_launch.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "classifier/table_publisher.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "dataplane/mempool.hpp"
#include "dataplane/port.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/pcap_file.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice;
using namespace sluice::classifier;
using namespace sluice::test;
namespace fs = std::filesystem;

namespace {

struct Decoded {
    int dscp = -1, ecn = -1;
    std::string ip_checksum, l4_checksum;
};

// One line per frame from tshark: DSCP, ECN (IPv4 or IPv6) and checksum verdicts.
std::vector<Decoded> decode(const fs::path& pcap) {
    const std::string cmd =
        "tshark -r '" + pcap.string() +
        "' -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE -T fields -E separator=, "
        "-e ip.dsfield.dscp -e ip.dsfield.ecn -e ipv6.tclass.dscp -e ipv6.tclass.ecn -e ip.checksum.status "
        "-e udp.checksum.status -e tcp.checksum.status 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::vector<Decoded> out;
    char line[512];
    while (fgets(line, sizeof(line), p)) {
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
        f.resize(7);
        for (auto& c : f) {
            while (!c.empty() && (c.back() == '\n' || c.back() == '\r')) c.pop_back();
        }
        Decoded d;
        const std::string& dscp = f[0].empty() ? f[2] : f[0];
        const std::string& ecn = f[1].empty() ? f[3] : f[1];
        d.dscp = dscp.empty() ? -1 : std::stoi(dscp, nullptr, 0);
        d.ecn = ecn.empty() ? -1 : std::stoi(ecn, nullptr, 0);
        d.ip_checksum = f[4];
        d.l4_checksum = f[5].empty() ? f[6] : f[5];
        out.push_back(d);
    }
    pclose(p);
    return out;
}

Bytes udp4(uint16_t dport, uint8_t tos, std::initializer_list<VlanTag> tags = {}, bool options = false) {
    Ipv4Spec ip;
    ip.tos = tos;
    if (options) ip.options = {0x94, 0x04, 0x00, 0x00};
    return ethernet(0x0800, ipv4_datagram(ip, udp(4000, dport, Bytes(40, 0x77))), tags);
}

Bytes udp6(uint16_t dport, uint8_t tclass, std::initializer_list<VlanTag> tags = {}) {
    Ipv6Spec ip;
    ip.traffic_class = tclass;
    return ethernet(0x86dd, ipv6_datagram(ip, udp(4000, dport, Bytes(40, 0x66)), 17, 0), tags);
}

}  // namespace

TEST_CASE("re-marked packets leave with the new DSCP, their ECN bits and valid checksums") {
    ensure_eal();
    const fs::path dir = fs::temp_directory_path() / ("sluice-remark-" + std::to_string(getpid()));
    fs::create_directories(dir);

    // Input: what each frame is, and the DSCP/ECN expected on the way out.
    struct Frame {
        Bytes bytes;
        int dscp, ecn;
    };
    std::vector<Frame> frames;
    for (uint8_t ecn = 0; ecn < 4; ++ecn) {
        frames.push_back({udp4(5060, static_cast<uint8_t>(ecn), {}), 46, ecn});               // voice: EF
        frames.push_back({udp4(5060, static_cast<uint8_t>((10 << 2) | ecn), {{0x8100, 7}}), 46, ecn});
        frames.push_back({udp4(5060, static_cast<uint8_t>((63 << 2) | ecn), {}, true), 46, ecn});  // IPv4 options
        frames.push_back({udp6(5060, static_cast<uint8_t>((8 << 2) | ecn), {{0x88a8, 1}, {0x8100, 2}}), 46, ecn});
        frames.push_back({udp4(80, static_cast<uint8_t>((18 << 2) | ecn)), 18, ecn});         // no rule: untouched
    }
    // A class that re-marks its packets (rule 4 sends port 7000 there with no
    // mark of its own); the voice rule's EF, though its class is the same, wins.
    frames.push_back({udp4(7000, (46 << 2) | 1), 10, 1});
    frames.push_back({udp6(7000, (0 << 2) | 3), 10, 3});
    // Policed flow: a trTCM whose committed bucket holds two of these
    // frames; red is re-marked to CS1, green keeps its mark.
    for (int i = 0; i < 6; ++i) frames.push_back({udp4(9999, (26 << 2) | 2), i < 2 ? 26 : 8, 2});

    std::vector<Bytes> in;
    for (const auto& f : frames) in.push_back(f.bytes);
    write_pcap(dir / "in.pcap", in);
    write_pcap(dir / "empty.pcap", {});

    ClassifierSpec spec;
    RuleSpec voice;
    voice.protocol = 17;
    voice.dst_ports = {{5060, 5060}};
    RuleSpec policed;
    policed.protocol = 17;
    policed.dst_ports = {{9999, 9999}};
    policed.vlan = std::nullopt;
    RuleSpec v4_only;  // forces rte_acl (an ip_version match), so the ACL path is what runs here
    v4_only.ip_version = 4;
    v4_only.dst_ports = {{1, 1}};
    RuleSpec marked_class;
    marked_class.protocol = 17;
    marked_class.dst_ports = {{7000, 7000}};
    spec.rules = {voice, policed, v4_only, marked_class};
    RuleAction to_ef;
    to_ef.set_dscp = 46;
    to_ef.class_id[0] = 1;
    RuleAction metered;
    metered.meter = 0;
    RuleAction to_marked_class;
    to_marked_class.class_id[0] = 1;
    spec.actions = {to_ef, metered, RuleAction{}, to_marked_class};
    spec.class_count[0] = spec.class_count[1] = 2;
    spec.class_dscp[0] = {kKeepDscp, 10};
    MeterDef m;
    m.params.kind = MeterParams::Kind::trtcm;
    m.params.cir = 1000;     // bytes/s: nothing refills within the test
    m.params.pir = 1000;
    m.params.cbs = 2 * static_cast<uint64_t>(frames.back().bytes.size());
    m.params.pbs = m.params.cbs;
    m.red = {ColorAction::Kind::remark, 8};
    spec.meters = {m};
    auto tables = ClassifierTables::compile(spec, rte_rdtsc());
    REQUIRE(tables.ok());
    REQUIRE((*tables)->rules().lookup() == RuleSet::Lookup::acl);

    auto pool = dataplane::make_packet_pool("remark_test", 4095, 0);
    REQUIRE(pool.ok());
    const std::string d = dir.string();
    REQUIRE(rte_vdev_init("net_pcap_rm0", ("rx_pcap=" + d + "/in.pcap,tx_pcap=" + d + "/lan_out.pcap").c_str()) == 0);
    REQUIRE(rte_vdev_init("net_pcap_rm1", ("rx_pcap=" + d + "/empty.pcap,tx_pcap=" + d + "/wan_out.pcap").c_str()) == 0);
    {
        auto lan = dataplane::Port::open({"lan", "net_pcap_rm0", 256, 256}, pool->get());
        auto wan = dataplane::Port::open({"wan", "net_pcap_rm1", 256, 256}, pool->get());
        REQUIRE(lan.ok());
        REQUIRE(wan.ok());
        auto publisher = TablePublisher::create(2);
        REQUIRE(publisher.ok());
        (*publisher)->publish(*tables);
        dataplane::Direction upload({"upload", (*lan)->id(), (*wan)->id(), 32, 1024, Side::lan, publisher->get()});
        std::atomic<bool> stop{false};
        dataplane::Worker w;
        w.directions = {&upload};
        w.stop = &stop;
        w.tables = publisher->get();
        const unsigned lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
        REQUIRE(rte_eal_remote_launch(dataplane::Worker::run, &w, lcore) == 0);
        const uint64_t until = rte_get_timer_cycles() + rte_get_timer_hz() * 5;
        while (upload.counters().tx_packets < frames.size() && rte_get_timer_cycles() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        stop = true;
        rte_eal_wait_lcore(lcore);
        CHECK(upload.counters().tx_packets == frames.size());
        const auto& rt = (*tables)->runtime(Direction::upload);
        CHECK(rt.rule_hits[0] == 16);
        CHECK(rt.rule_hits[1] == 6);
        CHECK(rt.meter_packets[0 * 3 + 0] == 2);  // green
        CHECK(rt.meter_packets[0 * 3 + 2] == 4);  // red
        CHECK(rt.rule_hits[3] == 2);
        CHECK(rt.default_hits == 4);
        CHECK(rt.class_packets[1] == 18);
        // Closing the ports flushes the pcap files.
    }
    REQUIRE(rte_vdev_uninit("net_pcap_rm0") == 0);
    REQUIRE(rte_vdev_uninit("net_pcap_rm1") == 0);

    const auto out = decode(dir / "wan_out.pcap");
    REQUIRE(out.size() == frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
        INFO("frame " << i + 1);
        CHECK(out[i].dscp == frames[i].dscp);
        CHECK(out[i].ecn == frames[i].ecn);
        // tshark: 1 means the checksum was verified good, 0 bad.
        if (!out[i].ip_checksum.empty()) CHECK(out[i].ip_checksum == "1");
        CHECK(out[i].l4_checksum == "1");
    }
    fs::remove_all(dir);
}
