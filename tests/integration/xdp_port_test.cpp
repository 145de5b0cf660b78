// An af_xdp port running Sluice's management XDP program, on a real veth
// pair whose other end lives in a namespace the test creates: the kernel
// answers pings to the gateway's own address while frames for other
// addresses arrive on the DPDK port; the verdict counters see both; a
// refill takes effect on the running port; closing the port leaves the
// interface without a program; a program left by a killed process is
// removed by the next open, and a program that is not Sluice's never is.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "bpf/management_program.hpp"
#include "dataplane/eal.hpp"
#include "dataplane/mempool.hpp"
#include "dataplane/port.hpp"
#include "dataplane/xdp_port.hpp"
#include "tests/support/test_eal.hpp"

namespace dp = sluice::dataplane;
using Filter = dp::ManagementFilter;

namespace {

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A veth pair: `outer` stays here for the port, `inner` goes into a new
// namespace as the host that talks to the gateway. 10.77.<n>.1 and .5 are
// the gateway's side, .2 the host's.
struct Topology {
    std::string ns, outer, inner, net;
    explicit Topology(const std::string& tag) {
        const std::string id = std::to_string(getpid() % 100000);
        ns = "hx-ns" + tag + id;
        outer = "hx" + tag + id + "o";
        inner = "hx" + tag + id + "i";
        net = "10.77." + std::to_string(getpid() % 200 + 1) + ".";
        sh("ip netns add " + ns);
        sh("ip link add " + outer + " type veth peer name " + inner + " netns " + ns);
        sh("sysctl -qw net.ipv6.conf." + outer + ".disable_ipv6=1");
        sh("ip netns exec " + ns + " sysctl -qw net.ipv6.conf." + inner + ".disable_ipv6=1");
        sh("ip addr add " + net + "1/24 dev " + outer);
        sh("ip addr add " + net + "5/32 dev " + outer);
        sh("ip link set " + outer + " up");
        sh("ip netns exec " + ns + " ip addr add " + net + "2/24 dev " + inner);
        sh("ip netns exec " + ns + " ip link set " + inner + " up");
        sh("ip netns exec " + ns + " ip link set lo up");
    }
    ~Topology() {
        sh("ip link del " + outer);
        sh("ip netns del " + ns);
    }
    Topology(const Topology&) = delete;
    Topology& operator=(const Topology&) = delete;

    bool ping(const std::string& host) const {
        return sh("ip netns exec " + ns + " ping -c 1 -W 1 " + net + host) == 0;
    }
    // UDP datagrams from the namespace to .9, an address nobody on the
    // segment owns: a static neighbour entry sends them to `outer`.
    void send_udp(int count) const {
        char mac[32] = {};
        FILE* f = std::fopen(("/sys/class/net/" + outer + "/address").c_str(), "r");
        REQUIRE(f != nullptr);
        REQUIRE(std::fscanf(f, "%31s", mac) == 1);
        std::fclose(f);
        sh("ip netns exec " + ns + " ip neigh replace " + net + "9 lladdr " + mac + " dev " + inner);
        REQUIRE(sh("ip netns exec " + ns + " bash -c 'for i in $(seq " + std::to_string(count) +
                   "); do echo hx > /dev/udp/" + net + "9/9999; done'") == 0);
    }
    int ifindex() const { return static_cast<int>(if_nametoindex(outer.c_str())); }
};

Filter::Prefix host(const std::string& dotted) {
    Filter::Prefix p;
    p.addr[10] = p.addr[11] = 0xff;
    REQUIRE(inet_pton(AF_INET, dotted.c_str(), &p.addr[12]) == 1);
    p.length = 128;
    return p;
}

uint32_t attached_id(int ifindex) {
    uint32_t id = 0;
    REQUIRE(bpf_xdp_query_id(ifindex, 0, &id) == 0);
    return id;
}

rte_mempool* pool() {
    static dp::Mempool p = [] {
        sluice::test::ensure_eal();
        auto made = dp::make_packet_pool("hx_xdp_pool", 8191, 0);
        REQUIRE(made);
        return std::move(*made);
    }();
    return p.get();
}

// Creates the af_xdp vdev on `interface` with the program and opens it.
std::unique_ptr<dp::Port> open_port(const std::string& name, const std::string& interface, const Filter& filter) {
    rte_mempool* mp = pool();
    auto devargs = dp::with_management_program(name + ",iface=" + interface);
    REQUIRE(devargs);
    const std::string args = devargs->substr(devargs->find(',') + 1);
    REQUIRE(rte_vdev_init(name.c_str(), args.c_str()) == 0);
    dp::PortSettings s;
    s.role = "lan";
    s.devargs = *devargs;
    s.rx_descriptors = 1024;
    s.tx_descriptors = 1024;
    auto port = dp::Port::open(s, mp, filter);
    INFO((port ? std::string() : port.error()));
    REQUIRE(port);
    return std::move(*port);
}

void close_port(std::unique_ptr<dp::Port>& port, const std::string& name) {
    port.reset();
    rte_vdev_uninit(name.c_str());
}

// UDP frames to .9 port 9999 taken from the port's rx queue within `ms`.
int udp_frames_received(uint16_t port, int want, int ms) {
    int found = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    rte_mbuf* burst[32];
    while (found < want && std::chrono::steady_clock::now() < until) {
        const uint16_t n = rte_eth_rx_burst(port, 0, burst, 32);
        for (uint16_t i = 0; i < n; ++i) {
            const auto* d = rte_pktmbuf_mtod(burst[i], const uint8_t*);
            if (burst[i]->data_len >= 38 && d[12] == 0x08 && d[13] == 0x00 && d[23] == 17 && d[33] == 9 &&
                d[36] == 0x27 && d[37] == 0x0f)
                ++found;
            rte_pktmbuf_free(burst[i]);
        }
        if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return found;
}

#define NEEDS_ROOT()                                                              \
    if (geteuid() != 0) {                                                         \
        WARN("needs root for namespaces, veths and XDP programs; not run");     \
        return;                                                                   \
    }

}  // namespace

TEST_CASE("an af_xdp port hands the gateway's own traffic to the kernel and the rest to DPDK, refilled live") {
    NEEDS_ROOT();
    Topology t("a");
    auto port = open_port("net_af_xdp_hxa", t.outer, [&] {
        Filter f;
        f.addresses = {host(t.net + "1")};
        return f;
    }());
    dp::Port& p = *port;
    REQUIRE(p.management() != nullptr);
    CHECK(attached_id(t.ifindex()) == p.management()->program_id());

    // The kernel answers for .1 (ARP and ICMP went to it) ...
    CHECK(t.ping("1"));
    // ... while datagrams for another address reach the DPDK port.
    t.send_udp(20);
    CHECK(udp_frames_received(p.id(), 20, 3000) == 20);
    auto c = p.management()->counters();
    CHECK(c.to_kernel >= 2);  // at least the ARP request and the echo request
    CHECK(c.to_socket >= 20);

    // .5 is the kernel's address too, but not management yet: its frames go
    // to the data plane and nobody answers.
    CHECK_FALSE(t.ping("5"));
    Filter both;
    both.addresses = {host(t.net + "1"), host(t.net + "5")};
    REQUIRE(p.management()->apply(both));
    CHECK(t.ping("5"));
    CHECK(t.ping("1"));

    // Removing .1 takes effect as well: its echo requests now reach DPDK.
    Filter only_five;
    only_five.addresses = {host(t.net + "5")};
    REQUIRE(p.management()->apply(only_five));
    const uint64_t to_socket = p.management()->counters().to_socket;
    CHECK_FALSE(t.ping("1"));
    CHECK(p.management()->counters().to_socket > to_socket);
    CHECK(t.ping("5"));

    // Closing the port leaves no program on the interface.
    close_port(port, "net_af_xdp_hxa");
    CHECK(attached_id(t.ifindex()) == 0);
}

// The child of the next case: opens the port and waits to be killed.
TEST_CASE("[child] holds an af_xdp port until killed", "[.xdp-child]") {
    const char* iface = std::getenv("HX_XDP_CHILD_IFACE");
    REQUIRE(iface != nullptr);
    Filter f;
    f.addresses = {host(std::string(std::getenv("HX_XDP_CHILD_NET")) + "1")};
    auto port = open_port("net_af_xdp_hxc", iface, f);
    for (;;) pause();
}

TEST_CASE("a program left by a killed process is removed by the next open of the port") {
    NEEDS_ROOT();
    Topology t("k");
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        setenv("HX_XDP_CHILD_IFACE", t.outer.c_str(), 1);
        setenv("HX_XDP_CHILD_NET", t.net.c_str(), 1);
        execl("/proc/self/exe", "xdp_port_test", "[xdp-child]", static_cast<char*>(nullptr));
        _exit(127);
    }
    uint32_t left = 0;
    for (int i = 0; i < 200 && left == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        uint32_t id = 0;
        if (bpf_xdp_query_id(t.ifindex(), 0, &id) == 0 && sluice::bpf::is_management_program(id)) left = id;
    }
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(left != 0);
    CHECK(attached_id(t.ifindex()) == left);  // nobody removed it

    Filter f;
    f.addresses = {host(t.net + "1")};
    auto port = open_port("net_af_xdp_hxk", t.outer, f);
    const uint32_t now = attached_id(t.ifindex());
    CHECK(now != left);
    CHECK(now == port->management()->program_id());
    CHECK(t.ping("1"));
    close_port(port, "net_af_xdp_hxk");
    CHECK(attached_id(t.ifindex()) == 0);
}

TEST_CASE("a program that is not Sluice's is never removed; the port says how to remove it by hand") {
    NEEDS_ROOT();
    Topology t("f");
    // return XDP_PASS
    const bpf_insn pass[] = {{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS}, {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
    sluice::bpf::Fd foreign(bpf_prog_load(BPF_PROG_TYPE_XDP, "hx_foreign", "GPL", pass, 2, nullptr));
    REQUIRE(foreign);
    REQUIRE(bpf_xdp_attach(t.ifindex(), foreign.get(), XDP_FLAGS_SKB_MODE, nullptr) == 0);
    const uint32_t id = attached_id(t.ifindex());

    auto r = sluice::bpf::clear_stale_program(t.outer);
    REQUIRE_FALSE(r);
    CHECK(r.error() == "interface " + t.outer + " already has an XDP program that is not Sluice's (id " +
                           std::to_string(id) + ", name \"hx_foreign\"); the af_xdp port cannot attach its own. If "
                           "nothing else needs it, remove it with: ip link set dev " + t.outer + " xdp off");
    CHECK(attached_id(t.ifindex()) == id);

    // The port is refused with the same words, and the program stays.
    auto devargs = dp::with_management_program("net_af_xdp_hxf,iface=" + t.outer);
    REQUIRE(devargs);
    pool();
    REQUIRE(rte_vdev_init("net_af_xdp_hxf", devargs->substr(devargs->find(',') + 1).c_str()) == 0);
    dp::PortSettings s;
    s.role = "lan";
    s.devargs = *devargs;
    auto port = dp::Port::open(s, pool());
    REQUIRE_FALSE(port);
    CHECK(port.error().find("ip link set dev " + t.outer + " xdp off") != std::string::npos);
    CHECK(attached_id(t.ifindex()) == id);
    rte_vdev_uninit("net_af_xdp_hxf");
    bpf_xdp_detach(t.ifindex(), XDP_FLAGS_SKB_MODE, nullptr);
}
