// The exception path between two net_pcap ports, which the kernel cannot
// see: the LAN port has a tap (hyexc…) carrying the management address. An
// ARP request and a ping for that address in the LAN port's input reach the
// kernel through the tap, and the kernel's ARP reply and echo reply leave on
// the LAN port (its tx pcap), with the port's MAC address; the ordinary
// traffic is bridged to the WAN port as before, and the counters say so.
// With no matcher published, the same frames are all bridged. A tap is
// refused for ports the kernel sees already. A matcher set while the
// worker runs decides the frames after it (net_ring ports).
#include <catch2/catch.hpp>

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_launch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "classifier/table_publisher.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/exception_paths.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "dataplane/management_match.hpp"
#include "dataplane/mempool.hpp"
#include "dataplane/port.hpp"
#include "tests/support/management_cases.hpp"
#include "tests/support/pcap_file.hpp"
#include "tests/support/test_eal.hpp"
#include "tests/support/veth_pair.hpp"

using namespace sluice;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using test::Bytes;

namespace {

using Mac = std::array<uint8_t, 6>;
constexpr Mac kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr std::array<uint8_t, 4> kPeer{198, 51, 100, 1};
constexpr std::array<uint8_t, 4> kGateway{198, 51, 100, 2};  // the management address
constexpr uint16_t kPingId = 0x4879, kPingSeq = 7;

Bytes with_macs(Bytes frame, const Mac& dst, const Mac& src) {
    std::copy(dst.begin(), dst.end(), frame.begin());
    std::copy(src.begin(), src.end(), frame.begin() + 6);
    return frame;
}

// An ARP request from the peer for `target`, broadcast.
Bytes arp_request_for(const std::array<uint8_t, 4>& target) {
    Bytes a = {0, 1, 0x08, 0x00, 6, 4, 0, 1};
    a.insert(a.end(), kPeerMac.begin(), kPeerMac.end());
    a.insert(a.end(), kPeer.begin(), kPeer.end());
    a.insert(a.end(), 6, 0);
    a.insert(a.end(), target.begin(), target.end());
    return with_macs(test::ethernet(0x0806, a), kBroadcast, kPeerMac);
}

Bytes ping(const Mac& to_mac) {
    test::Ipv4Spec ip;
    std::memcpy(ip.src, kPeer.data(), 4);
    std::memcpy(ip.dst, kGateway.data(), 4);
    ip.protocol = 1;
    return with_macs(test::ethernet(0x0800, test::ipv4_datagram(ip, test::icmp_echo(8, kPingId, kPingSeq, Bytes(32, 0x61)))),
                     to_mac, kPeerMac);
}

Mac mac_of(uint16_t port) {
    rte_ether_addr a{};
    REQUIRE(rte_eth_macaddr_get(port, &a) == 0);
    Mac m;
    std::copy(std::begin(a.addr_bytes), std::end(a.addr_bytes), m.begin());
    return m;
}

// net_pcap gives each device it creates the next of a series of MAC
// addresses (02:70:63:61:70:NN): the address the next one gets, learnt from
// a throwaway device, so the input can be addressed to it before it exists.
Mac next_pcap_mac(const fs::path& dir) {
    test::write_pcap(dir / "empty.pcap", {});
    const std::string name = "net_pcap_hyprobe";
    REQUIRE(rte_vdev_init(name.c_str(), ("rx_pcap=" + (dir / "empty.pcap").string() + ",tx_pcap=" +
                                         (dir / "probe_out.pcap").string()).c_str()) == 0);
    uint16_t id = 0;
    REQUIRE(rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0);
    Mac m = mac_of(id);
    rte_eth_dev_close(id);
    rte_vdev_uninit(name.c_str());
    ++m[5];
    return m;
}

bool is_arp_reply_from(const Bytes& f, const Mac& mac) {
    if (f.size() < 42 || f[12] != 0x08 || f[13] != 0x06 || f[20] != 0 || f[21] != 2) return false;
    return std::equal(mac.begin(), mac.end(), f.begin() + 6) &&                  // from the port's MAC
           std::equal(kPeerMac.begin(), kPeerMac.end(), f.begin()) &&            // to the asker
           std::equal(mac.begin(), mac.end(), f.begin() + 22) &&                 // sender hardware address
           std::equal(kGateway.begin(), kGateway.end(), f.begin() + 28) &&       // sender protocol address
           std::equal(kPeer.begin(), kPeer.end(), f.begin() + 38);               // target protocol address
}

bool is_echo_reply_from(const Bytes& f, const Mac& mac) {
    if (f.size() < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 1) return false;
    const size_t icmp = 14 + static_cast<size_t>(f[14] & 0x0f) * 4;
    return std::equal(mac.begin(), mac.end(), f.begin() + 6) && std::equal(kPeerMac.begin(), kPeerMac.end(), f.begin()) &&
           std::equal(kGateway.begin(), kGateway.end(), f.begin() + 26) &&
           std::equal(kPeer.begin(), kPeer.end(), f.begin() + 30) && f[icmp] == 0 &&
           f[icmp + 4] == (kPingId >> 8) && f[icmp + 5] == (kPingId & 0xff) && f[icmp + 7] == kPingSeq;
}

void run(const std::string& cmd) {
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
}

// Both directions between `lan` and `wan`, wired to `paths`, run by one
// worker on the next lcore from construction until stop() or destruction.
struct RunningBridge {
    dataplane::Direction upload;
    dataplane::Direction download;
    std::atomic<bool> stop_flag{false};
    dataplane::Worker worker;
    unsigned lcore = 0;
    bool running = false;

    static dataplane::DirectionConfig config(const char* name, uint16_t in, uint16_t out, classifier::Side side,
                                             const classifier::TablePublisher* tables) {
        return {name, in, out, 32, 4096, side, tables};
    }
    static std::pair<dataplane::DirectionConfig, dataplane::DirectionConfig> wired(
        const dataplane::Port& lan, const dataplane::Port& wan, dataplane::ExceptionPaths& paths,
        const classifier::TablePublisher* tables) {
        auto up = config("upload", lan.id(), wan.id(), classifier::Side::lan, tables);
        auto down = config("download", wan.id(), lan.id(), classifier::Side::wan, tables);
        paths.wire(up, down);
        return {up, down};
    }
    RunningBridge(const std::pair<dataplane::DirectionConfig, dataplane::DirectionConfig>& cfg,
                  classifier::TablePublisher* tables)
        : upload(cfg.first), download(cfg.second) {
        worker.directions = {&upload, &download};
        worker.stop = &stop_flag;
        worker.tables = tables;
        worker.idle = dataplane::idle_settings(250);
        lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
        REQUIRE(rte_eal_remote_launch(dataplane::Worker::run, &worker, lcore) == 0);
        running = true;
    }
    void stop() {
        if (!running) return;
        stop_flag = true;
        rte_eal_wait_lcore(lcore);
        running = false;
    }
    ~RunningBridge() { stop(); }
};

struct Outcome {
    std::vector<Bytes> lan_in, wan_in, lan_out, wan_out;
    std::vector<Bytes> ordinary;  // the LAN input that is not for the gateway
    Mac lan_mac{};
    dataplane::ExceptionCounters tap;
    dataplane::DirectionCounters upload, download;
};

// Runs one worker with both directions over two pcap ports, the LAN port
// with a tap, until the WAN port has sent what it should and the kernel has
// answered (when `filter`), then closes everything and reads the pcaps.
Outcome bridge(rte_mempool* pool, const std::string& tag, bool filter) {
    Outcome o;
    const fs::path dir = fs::temp_directory_path() / ("sluice-exception-" + tag + "-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    o.lan_mac = next_pcap_mac(dir);

    namespace mc = test::management;
    const Bytes arp = arp_request_for(kGateway), echo = ping(o.lan_mac);
    o.ordinary = {mc::udp4_to(mc::kOther, 161), arp_request_for({198, 51, 100, 9}), mc::tcp4_to({203, 0, 113, 5}, 22),
                  mc::udp6_to("2001:db8::7", 53), mc::icmp4_to(mc::kOther)};
    o.lan_in = {o.ordinary[0], arp, o.ordinary[1], o.ordinary[2], echo, o.ordinary[3], o.ordinary[4]};
    o.wan_in = {mc::udp4_to({192, 0, 2, 9}, 5000), mc::tcp4_to({192, 0, 2, 9}, 443), mc::udp6_to("2001:db8::1", 123)};
    test::write_pcap(dir / "lan_in.pcap", o.lan_in);
    test::write_pcap(dir / "wan_in.pcap", o.wan_in);

    const std::string lan_dev = "net_pcap_hylan", wan_dev = "net_pcap_hywan";
    REQUIRE(rte_vdev_init(lan_dev.c_str(), ("rx_pcap=" + (dir / "lan_in.pcap").string() + ",tx_pcap=" +
                                            (dir / "lan_out.pcap").string()).c_str()) == 0);
    REQUIRE(rte_vdev_init(wan_dev.c_str(), ("rx_pcap=" + (dir / "wan_in.pcap").string() + ",tx_pcap=" +
                                            (dir / "wan_out.pcap").string()).c_str()) == 0);
    {
        auto lan = dataplane::Port::open({"lan", lan_dev, 256, 256, false}, pool);
        auto wan = dataplane::Port::open({"wan", wan_dev, 256, 256, false}, pool);
        REQUIRE(lan.ok());
        REQUIRE(wan.ok());
        REQUIRE(mac_of((*lan)->id()) == o.lan_mac);
        CHECK((*lan)->kernel_access() == dataplane::KernelAccess::none);

        auto publisher = classifier::TablePublisher::create(2);
        REQUIRE(publisher.ok());
        const std::string tap = "hyexc" + std::to_string(getpid() % 100000);
        auto paths = dataplane::ExceptionPaths::open({tap, ""}, **lan, **wan, pool, **publisher);
        REQUIRE(paths.ok());
        REQUIRE((*paths)->tap(0) != nullptr);
        CHECK((*paths)->tap(0)->rx_interrupts());
        CHECK((*paths)->tap(1) == nullptr);
        // The WAN pcap port has no tap: the kernel cannot see it, and that is said.
        REQUIRE((*paths)->unreachable().size() == 1);
        CHECK((*paths)->unreachable()[0].find("--management-tap-wan") != std::string::npos);
        // A quiet interface (no IPv6 of its own), with the management address.
        std::ofstream("/proc/sys/net/ipv6/conf/" + tap + "/disable_ipv6") << "1\n";
        run("ip addr add 198.51.100.2/24 dev " + tap);
        run("ip link set " + tap + " up");
        if (filter) {
            auto m = dataplane::ManagementMatch::compile({{mc::v4("198.51.100.2", 32)}, {}, {}});
            REQUIRE(m.ok());
            (*paths)->set_management(*m);
            CHECK((*paths)->management() == *m);
        }

        const auto cfg = RunningBridge::wired(**lan, **wan, **paths, publisher->get());
        CHECK(cfg.first.ingress_tap == (*paths)->tap(0));
        CHECK(cfg.second.egress_tap == (*paths)->tap(0));
        CHECK(cfg.second.management == nullptr);
        {
            RunningBridge bridge(cfg, publisher->get());
            const auto& upload = bridge.upload;
            const auto& download = bridge.download;
            const auto& c = (*paths)->tap(0)->counters();
            const uint64_t want_wan = filter ? o.ordinary.size() : o.lan_in.size();
            const auto deadline = std::chrono::steady_clock::now() + 5s;
            while (std::chrono::steady_clock::now() < deadline) {
                const bool bridged = upload.counters().tx_packets == want_wan &&
                                     download.counters().tx_packets == o.wan_in.size();
                if (bridged && (!filter || c.from_kernel.packets >= 2)) break;
                std::this_thread::sleep_for(10ms);
            }
            // A moment for anything else the kernel might send.
            std::this_thread::sleep_for(200ms);
            bridge.stop();
            o.tap = c;
            o.upload = upload.counters();
            o.download = download.counters();
        }
        // The tap goes first, then the ports, whose pcaps are complete once closed.
    }
    rte_vdev_uninit(lan_dev.c_str());
    rte_vdev_uninit(wan_dev.c_str());
    o.lan_out = test::read_pcap(dir / "lan_out.pcap");
    o.wan_out = test::read_pcap(dir / "wan_out.pcap");
    fs::remove_all(dir);
    return o;
}

bool root_with_tun() { return geteuid() == 0 && fs::exists("/dev/net/tun"); }

rte_mempool* pool() {
    test::ensure_eal();
    static auto p = dataplane::make_packet_pool("exception_test", 4095, 0);
    REQUIRE(p.ok());
    return p->get();
}

}  // namespace

TEST_CASE("ARP and ping for the management address on a pcap port are answered by the kernel, out of that port") {
    if (!root_with_tun()) {
        WARN("SKIP: net_tap needs root and /dev/net/tun");
        return;
    }
    rte_mempool* packets = pool();
    REQUIRE(rte_lcore_count() >= 2);
    const Outcome o = bridge(packets, "filter", true);

    // Ordinary traffic crossed to the WAN port, byte for byte and in order;
    // the two frames for the gateway did not.
    CHECK(o.wan_out == o.ordinary);
    // The LAN port sent the WAN port's frames, in order, and the kernel's.
    std::vector<Bytes> bridged, kernel;
    for (const Bytes& f : o.lan_out) {
        const bool from_wan = std::find(o.wan_in.begin(), o.wan_in.end(), f) != o.wan_in.end();
        (from_wan ? bridged : kernel).push_back(f);
    }
    CHECK(bridged == o.wan_in);
    const auto arp_replies = std::count_if(kernel.begin(), kernel.end(), [&](const Bytes& f) { return is_arp_reply_from(f, o.lan_mac); });
    const auto echo_replies = std::count_if(kernel.begin(), kernel.end(), [&](const Bytes& f) { return is_echo_reply_from(f, o.lan_mac); });
    CHECK(arp_replies == 1);
    CHECK(echo_replies == 1);

    // Counters: two frames to the kernel, every frame it sent on the LAN port.
    CHECK(o.tap.to_kernel.packets == 2);
    CHECK(o.tap.to_kernel.bytes == o.lan_in[1].size() + o.lan_in[4].size());
    CHECK(o.tap.to_kernel.dropped == 0);
    CHECK(o.tap.from_kernel.packets == kernel.size());
    CHECK(o.tap.from_kernel.dropped == 0);
    CHECK(o.upload.rx_packets == o.lan_in.size());
    CHECK(o.upload.tx_packets == o.ordinary.size());
    CHECK(o.upload.dropped() == 0);
    // The kernel's frames are not the download direction's: it sent the WAN input only.
    CHECK(o.download.tx_packets == o.wan_in.size());
}

TEST_CASE("with no management matcher published, a port's tap receives nothing and everything is bridged") {
    if (!root_with_tun()) {
        WARN("SKIP: net_tap needs root and /dev/net/tun");
        return;
    }
    const Outcome o = bridge(pool(), "none", false);
    CHECK(o.wan_out == o.lan_in);
    CHECK(o.tap.to_kernel.packets == 0);
    for (const Bytes& f : o.lan_out) CHECK_FALSE(is_echo_reply_from(f, o.lan_mac));
    CHECK(o.upload.tx_packets == o.lan_in.size());
}

TEST_CASE("a tap is refused, with the reason, for a port whose frames the kernel sees, and for a taken name") {
    if (!root_with_tun()) {
        WARN("SKIP: net_tap and af_packet need root");
        return;
    }
    rte_mempool* packets = pool();
    test::VethPair veth("hyv");
    const fs::path dir = fs::temp_directory_path() / ("sluice-exception-refused-" + std::to_string(getpid()));
    fs::create_directories(dir);
    test::write_pcap(dir / "empty.pcap", {});
    const std::string afp = "net_af_packet_hy", pcap = "net_pcap_hyrefused";
    REQUIRE(rte_vdev_init(afp.c_str(), ("iface=" + veth.a).c_str()) == 0);
    REQUIRE(rte_vdev_init(pcap.c_str(), ("rx_pcap=" + (dir / "empty.pcap").string() + ",tx_pcap=" +
                                         (dir / "out.pcap").string()).c_str()) == 0);
    {
        auto lan = dataplane::Port::open({"lan", afp + ",iface=" + veth.a, 256, 256, false}, packets);
        auto wan = dataplane::Port::open({"wan", pcap, 256, 256, false}, packets);
        REQUIRE(lan.ok());
        REQUIRE(wan.ok());
        CHECK((*lan)->kernel_access() == dataplane::KernelAccess::copy);
        CHECK(dataplane::kernel_access_of("net_af_xdp") == dataplane::KernelAccess::xdp_program);
        CHECK(dataplane::kernel_access_of("net_pcap", true) == dataplane::KernelAccess::copy);
        CHECK(dataplane::kernel_access_of("net_pcap") == dataplane::KernelAccess::none);
        CHECK(dataplane::kernel_access_of("net_ring") == dataplane::KernelAccess::none);
        auto publisher = classifier::TablePublisher::create(2);
        REQUIRE(publisher.ok());

        auto refused = dataplane::ExceptionPaths::open({"hyrefused0", ""}, **lan, **wan, packets, **publisher);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() == "--management-tap-lan: the lan port " + afp + " is an af_packet port: the kernel "
                                 "already receives its frames on " + veth.a + "; leave the option out");

        refused = dataplane::ExceptionPaths::open({"", veth.b}, **lan, **wan, packets, **publisher);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().find("--management-tap-wan: an interface named " + veth.b + " exists already") == 0);

        // Without taps, only the pcap port is out of the kernel's sight.
        auto none = dataplane::ExceptionPaths::open({"", ""}, **lan, **wan, packets, **publisher);
        REQUIRE(none.ok());
        REQUIRE((*none)->unreachable().size() == 1);
        CHECK((*none)->unreachable()[0].find("wan port " + pcap + " (net_pcap)") == 0);
    }
    rte_vdev_uninit(afp.c_str());
    rte_vdev_uninit(pcap.c_str());
    fs::remove_all(dir);
}

TEST_CASE("a matcher set while the worker runs decides the frames that come after it") {
    if (!root_with_tun()) {
        WARN("SKIP: net_tap needs root and /dev/net/tun");
        return;
    }
    namespace mc = test::management;
    rte_mempool* packets = pool();
    REQUIRE(rte_lcore_count() >= 2);
    // Two ring ports, fed and read by this thread.
    std::array<rte_ring*, 4> rings{};
    const std::array<const char*, 4> names{"hyswap_lrx", "hyswap_ltx", "hyswap_wrx", "hyswap_wtx"};
    for (size_t i = 0; i < 4; ++i) {
        rings[i] = rte_ring_create(names[i], 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        REQUIRE(rings[i] != nullptr);
    }
    REQUIRE(rte_eth_from_rings("hyswap_lan", &rings[0], 1, &rings[1], 1, 0) >= 0);
    REQUIRE(rte_eth_from_rings("hyswap_wan", &rings[2], 1, &rings[3], 1, 0) >= 0);
    {
        auto lan = dataplane::Port::open({"lan", "net_ring_hyswap_lan", 256, 256, false}, packets);
        auto wan = dataplane::Port::open({"wan", "net_ring_hyswap_wan", 256, 256, false}, packets);
        INFO((lan.ok() ? std::string() : lan.error()));
        REQUIRE(lan.ok());
        REQUIRE(wan.ok());
        auto publisher = classifier::TablePublisher::create(2);
        REQUIRE(publisher.ok());
        const std::string tap = "hyswap" + std::to_string(getpid() % 100000);
        auto paths = dataplane::ExceptionPaths::open({tap, ""}, **lan, **wan, packets, **publisher);
        REQUIRE(paths.ok());
        std::ofstream("/proc/sys/net/ipv6/conf/" + tap + "/disable_ipv6") << "1\n";

        RunningBridge bridge(RunningBridge::wired(**lan, **wan, **paths, publisher->get()), publisher->get());

        const auto& to_kernel = (*paths)->tap(0)->counters().to_kernel;
        uint64_t to_wan = 0;
        // Sends one frame into the LAN port and waits until it has gone
        // to the WAN port or to the kernel; says which.
        const auto where = [&](const Bytes& f) {
            rte_mbuf* m = rte_pktmbuf_alloc(packets);
            REQUIRE(m != nullptr);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
            const uint64_t kernel_before = to_kernel.packets, wan_before = to_wan;
            REQUIRE(rte_ring_enqueue(rings[0], m) == 0);
            const auto deadline = std::chrono::steady_clock::now() + 2s;
            while (std::chrono::steady_clock::now() < deadline) {
                rte_mbuf* out;
                while (rte_ring_dequeue(rings[3], reinterpret_cast<void**>(&out)) == 0) {
                    rte_pktmbuf_free(out);
                    ++to_wan;
                }
                if (to_wan != wan_before) return std::string("wan");
                if (to_kernel.packets != kernel_before) return std::string("kernel");
                std::this_thread::sleep_for(1ms);
            }
            return std::string("nowhere");
        };
        const auto matcher = [](dataplane::ManagementFilter::Prefix p) {
            auto m = dataplane::ManagementMatch::compile({{p}, {}, {}});
            REQUIRE(m.ok());
            return *m;
        };

        CHECK(where(mc::udp4_to(mc::kOwn, 161)) == "wan");
        (*paths)->set_management(matcher(mc::v4("198.51.100.2", 32)));
        CHECK(where(mc::udp4_to(mc::kOwn, 161)) == "kernel");
        CHECK(where(mc::arp_for(mc::kOwn)) == "kernel");
        CHECK(where(mc::udp4_to(mc::kInPrefix, 161)) == "wan");
        (*paths)->set_management(matcher(mc::v4("203.0.113.0", 24)));
        CHECK(where(mc::udp4_to(mc::kOwn, 161)) == "wan");
        CHECK(where(mc::udp4_to(mc::kInPrefix, 161)) == "kernel");
        (*paths)->set_management(nullptr);
        CHECK((*paths)->management() == nullptr);
        CHECK(where(mc::udp4_to(mc::kInPrefix, 161)) == "wan");
        // An empty filter is no matcher at all: one branch per frame.
        (*paths)->set_management(matcher(mc::v4("203.0.113.0", 24)));
        auto empty = dataplane::ManagementMatch::compile({});
        REQUIRE(empty.ok());
        (*paths)->set_management(*empty);
        CHECK((*paths)->management() == nullptr);
        CHECK(where(mc::udp4_to(mc::kInPrefix, 161)) == "wan");

        bridge.stop();
        CHECK(to_kernel.packets == 3);
        CHECK(to_kernel.dropped == 0);
        CHECK(bridge.upload.counters().tx_packets == 5);
    }
    for (rte_ring* r : rings) {
        rte_mbuf* m;
        while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    }
}
