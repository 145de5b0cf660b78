// sluiced as a transparent bridge between two net_pcap ports: the frames fed
// to one side come out of the other, byte for byte and in order, in both
// directions at once; malformed frames are dropped and counted by cause.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <string>
#include <vector>

#include "tests/support/daemon_process.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/pcap_file.hpp"

using namespace sluice::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A deterministic mix of what crosses a gateway: IPv4 and IPv6, TCP, UDP,
// ICMP, VLAN and QinQ, ARP, LLC, IPv4 options, and fragments of both families.
std::vector<Bytes> mixed_traffic(unsigned count, uint16_t port_base) {
    std::vector<Bytes> out;
    for (unsigned i = 0; out.size() < count; ++i) {
        const auto p = static_cast<uint16_t>(port_base + i);
        Ipv4Spec ip4;
        ip4.id = static_cast<uint16_t>(i);
        Ipv6Spec ip6;
        switch (i % 12) {
        case 0: out.push_back(tcp4_frame(p, 443, static_cast<uint8_t>((i % 64) << 2))); break;
        case 1: out.push_back(udp4_frame(p, 53, 0xb8)); break;
        case 2: out.push_back(udp6_frame(p, 5060, 0x88)); break;
        case 3: out.push_back(udp4_frame(p, 4789, 0, {{0x8100, static_cast<uint16_t>(i & 0xfff)}})); break;
        case 4: out.push_back(udp4_frame(p, 1194, 0, {{0x88a8, 100}, {0x8100, 200}})); break;
        case 5: out.push_back(arp_request()); break;
        case 6: {
            ip4.protocol = 1;
            out.push_back(ethernet(0x0800, ipv4_datagram(ip4, icmp_echo(8, 7, static_cast<uint16_t>(i), Bytes(56, 0x61)))));
            break;
        }
        case 7: {
            ip4.more_fragments = true;
            out.push_back(ethernet(0x0800, ipv4_datagram(ip4, udp(p, 9000, Bytes(1000, 0x5a)))));
            ip4.more_fragments = false;
            ip4.fragment_offset_units = 126;
            ip4.protocol = 17;
            out.push_back(ethernet(0x0800, ipv4_datagram(ip4, Bytes(300, 0x5b))));
            break;
        }
        case 8: {
            Bytes frag = ipv6_fragment_ext(17, 0, true, i);
            const Bytes u = udp(p, 9001, Bytes(800, 0x3c));
            frag.insert(frag.end(), u.begin(), u.end());
            ip6.next_header = 44;
            out.push_back(ethernet(0x86dd, ipv6_datagram(ip6, frag, 17, 8)));
            Bytes later = ipv6_fragment_ext(17, 101, false, i);
            later.insert(later.end(), 200, 0x3d);
            out.push_back(ethernet(0x86dd, ipv6_datagram(ip6, later, 17, 8)));
            break;
        }
        case 9: {
            ip4.protocol = 6;
            ip4.options = {0x94, 0x04, 0x00, 0x00};
            out.push_back(ethernet(0x0800, ipv4_datagram(ip4, tcp(p, 22, Bytes(1400, 0x11), 0x18))));
            break;
        }
        case 10: out.push_back(ethernet(0x0026, Bytes(38, 0x42))); break;  // 802.3 + LLC
        case 11: {
            ip6.next_header = 58;
            out.push_back(ethernet(0x86dd, ipv6_datagram(ip6, icmp_echo(128, 3, static_cast<uint16_t>(i)), 58, 0)));
            break;
        }
        }
    }
    out.resize(count);
    return out;
}

struct Bridge {
    fs::path dir;
    std::string log;
    int exit_code = -1;
};

// Runs sluiced over two pcap ports until both inputs have been forwarded.
Bridge run_bridge(const std::string& name, const std::vector<Bytes>& lan_in,
                  const std::vector<Bytes>& wan_in) {
    Bridge b;
    b.dir = fs::temp_directory_path() / ("sluice-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(b.dir);
    fs::create_directories(b.dir);
    write_pcap(b.dir / "lan_in.pcap", lan_in);
    write_pcap(b.dir / "wan_in.pcap", wan_in);
    const std::string d = b.dir.string();
    DaemonProcess sluiced(
        sluiced_path(),
        {"--lan", "net_pcap0,rx_pcap=" + d + "/lan_in.pcap,tx_pcap=" + d + "/lan_out.pcap",
         "--wan", "net_pcap1,rx_pcap=" + d + "/wan_in.pcap,tx_pcap=" + d + "/wan_out.pcap",
         "--hugepages", "off", "--memory", "256", "--socket", d + "/sluiced.sock"},
        d + "/sluiced.log");
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    // A pcap port delivers its whole file at once; give the worker a moment
    // to move it, then stop: the drain on SIGTERM forwards anything queued.
    std::this_thread::sleep_for(500ms);
    b.exit_code = sluiced.stop(SIGTERM);
    b.log = sluiced.log();
    return b;
}

}  // namespace

TEST_CASE("mixed traffic crosses the bridge byte for byte, in order, both ways") {
    const auto upload = mixed_traffic(600, 10000);
    const auto download = mixed_traffic(480, 20000);
    const Bridge b = run_bridge("mixed", upload, download);
    INFO(b.log);
    REQUIRE(b.exit_code == 0);

    const auto wan_out = read_pcap(b.dir / "wan_out.pcap");
    const auto lan_out = read_pcap(b.dir / "lan_out.pcap");
    REQUIRE(wan_out.size() == upload.size());
    REQUIRE(lan_out.size() == download.size());
    for (size_t i = 0; i < upload.size(); ++i) {
        INFO("upload frame " << i);
        REQUIRE(wan_out[i] == upload[i]);
    }
    for (size_t i = 0; i < download.size(); ++i) {
        INFO("download frame " << i);
        REQUIRE(lan_out[i] == download[i]);
    }

    CHECK(log_value(b.log, "direction=upload", "rx_packets") == 600);
    CHECK(log_value(b.log, "direction=upload", "tx_packets") == 600);
    CHECK(log_value(b.log, "direction=upload", "dropped") == 0);
    CHECK(log_value(b.log, "direction=download", "tx_packets") == 480);
    // ARP and 802.3/LLC frames are the non-IP part of the mix.
    const auto non_ip = std::count_if(upload.begin(), upload.end(), [](const Bytes& f) {
        const unsigned type = (f[12] << 8) | f[13];
        return type == 0x0806 || type < 0x0600;
    });
    CHECK(log_value(b.log, "direction=upload", "non_ip") == non_ip);
    fs::remove_all(b.dir);
}

TEST_CASE("malformed frames are dropped, counted by cause, and the rest still pass in order") {
    std::vector<Bytes> in;
    std::vector<Bytes> good;
    const auto traffic = mixed_traffic(120, 30000);
    for (size_t i = 0; i < traffic.size(); ++i) {
        in.push_back(traffic[i]);
        good.push_back(traffic[i]);
        if (i % 10 == 0) {
            Bytes bad_ihl = udp4_frame(1, 2);
            bad_ihl[14] = 0x43;  // IHL of 3 words
            in.push_back(bad_ihl);
        }
        if (i % 20 == 0) {
            Bytes lying = tcp4_frame(3, 4);
            lying[16] = 0x0f;  // total length far beyond the frame
            in.push_back(lying);
        }
        if (i % 30 == 0) in.push_back(Bytes(10, 0xee));  // runt
    }
    const Bridge b = run_bridge("malformed", in, {});
    INFO(b.log);
    REQUIRE(b.exit_code == 0);
    const auto wan_out = read_pcap(b.dir / "wan_out.pcap");
    REQUIRE(wan_out.size() == good.size());
    for (size_t i = 0; i < good.size(); ++i) REQUIRE(wan_out[i] == good[i]);

    CHECK(log_value(b.log, "direction=upload", "drop_malformed") == 12 + 6 + 4);
    CHECK(log_value(b.log, "direction=upload", "malformed_bad_ipv4_header_length") == 12);
    CHECK(log_value(b.log, "direction=upload", "malformed_bad_ip_total_length") == 6);
    CHECK(log_value(b.log, "direction=upload", "malformed_truncated_ethernet") == 4);
    CHECK(log_value(b.log, "direction=upload", "rx_packets") == static_cast<long long>(in.size()));
    fs::remove_all(b.dir);
}
