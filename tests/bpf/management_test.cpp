// The management XDP program: it passes this kernel's verifier (the test
// loads it), and run on frames with BPF_PROG_TEST_RUN it hands the kernel
// exactly the gateway's own traffic that its maps describe. With no AF_XDP
// socket bound in a test run, everything else is passed to the kernel too,
// so the per-CPU verdict counters tell the two apart.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include "management.h"
#include "management.skel.h"
#include "tests/support/frame_builder.hpp"
#include "tests/support/management_cases.hpp"

using sluice::test::Bytes;

namespace {

struct Program {
    management* skel = nullptr;
    Program() {
        skel = management__open();
        if (skel && management__load(skel) != 0) {
            management__destroy(skel);
            skel = nullptr;
        }
    }
    ~Program() {
        if (skel) management__destroy(skel);
    }

    int run(const Bytes& frame) const {
        Bytes out(frame.size() + 256);
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                    .data_size_in = static_cast<__u32>(frame.size()), .data_size_out = static_cast<__u32>(out.size()),
                    .repeat = 1);
        REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.sluice_management), &opts) == 0);
        return static_cast<int>(opts.retval);
    }

    uint64_t counter(uint32_t verdict) const {
        std::vector<uint64_t> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
        REQUIRE(bpf_map_lookup_elem(bpf_map__fd(skel->maps.mgmt_counters), &verdict, per_cpu.data()) == 0);
        uint64_t sum = 0;
        for (uint64_t v : per_cpu) sum += v;
        return sum;
    }

    // Which way a frame went: to the kernel as management traffic, or to
    // the data plane (which, without a socket in a test run, is the kernel
    // by way of the "no socket" verdict).
    bool to_kernel(const Bytes& frame) const {
        const uint64_t before = counter(SLUICE_MGMT_TO_KERNEL), none = counter(SLUICE_MGMT_NO_SOCKET);
        CHECK(run(frame) == XDP_PASS);
        const bool kernel = counter(SLUICE_MGMT_TO_KERNEL) == before + 1;
        CHECK(kernel != (counter(SLUICE_MGMT_NO_SOCKET) == none + 1));
        return kernel;
    }

    void add_v4(const char* addr, unsigned length) {
        sluice_mgmt_addr_key key{};
        key.prefixlen = 96 + length;
        key.addr[10] = key.addr[11] = 0xff;
        REQUIRE(inet_pton(AF_INET, addr, &key.addr[12]) == 1);
        const uint8_t one = 1;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel->maps.mgmt_addrs), &key, &one, BPF_ANY) == 0);
    }
    void add_v6(const char* addr, unsigned length) {
        sluice_mgmt_addr_key key{};
        key.prefixlen = length;
        REQUIRE(inet_pton(AF_INET6, addr, key.addr) == 1);
        const uint8_t one = 1;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel->maps.mgmt_addrs), &key, &one, BPF_ANY) == 0);
    }
    void add_service(uint8_t protocol, uint16_t port) {
        sluice_mgmt_service_key key{protocol, 0, port};
        const uint8_t one = 1;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel->maps.mgmt_services), &key, &one, BPF_ANY) == 0);
    }
    // The maps as a ManagementFilter describes them: each prefix in the
    // trie, each service as its protocol and every port of its range (port
    // 0 for a 0..0 service: the whole protocol), each ethertype.
    void load(const sluice::dataplane::ManagementFilter& f) {
        const uint8_t one = 1;
        for (const auto& p : f.addresses) {
            sluice_mgmt_addr_key key{};
            key.prefixlen = p.length;
            std::memcpy(key.addr, p.addr.data(), 16);
            REQUIRE(bpf_map_update_elem(bpf_map__fd(skel->maps.mgmt_addrs), &key, &one, BPF_ANY) == 0);
        }
        for (const auto& s : f.services) {
            for (uint32_t port = s.first_port; port <= s.last_port; ++port)
                add_service(s.protocol, static_cast<uint16_t>(port));
        }
        services_listed(!f.services.empty());
        for (const uint16_t type : f.ethertypes)
            REQUIRE(bpf_map_update_elem(bpf_map__fd(skel->maps.mgmt_ethertypes), &type, &one, BPF_ANY) == 0);
    }
    void services_listed(bool listed) {
        const uint32_t zero = 0;
        sluice_mgmt_config cfg{listed ? SLUICE_MGMT_SERVICES_LISTED : 0u};
        REQUIRE(bpf_map_update_elem(bpf_map__fd(skel->maps.mgmt_config), &zero, &cfg, BPF_ANY) == 0);
    }
};

Bytes udp4_to(std::array<uint8_t, 4> dst, uint16_t dport, std::initializer_list<sluice::test::VlanTag> tags = {}) {
    sluice::test::Ipv4Spec ip;
    std::memcpy(ip.dst, dst.data(), 4);
    return sluice::test::ethernet(0x0800, sluice::test::ipv4_datagram(ip, sluice::test::udp(40000, dport)), tags);
}

Bytes tcp4_to(std::array<uint8_t, 4> dst, uint16_t dport) {
    sluice::test::Ipv4Spec ip;
    std::memcpy(ip.dst, dst.data(), 4);
    ip.protocol = 6;
    return sluice::test::ethernet(0x0800, sluice::test::ipv4_datagram(ip, sluice::test::tcp(40000, dport)));
}

Bytes icmp4_to(std::array<uint8_t, 4> dst) {
    sluice::test::Ipv4Spec ip;
    std::memcpy(ip.dst, dst.data(), 4);
    ip.protocol = 1;
    return sluice::test::ethernet(0x0800, sluice::test::ipv4_datagram(ip, sluice::test::icmp_echo(8, 1, 1)));
}

// An IPv6 neighbour solicitation for `target`, sent to its solicited-node
// multicast address.
Bytes neighbour_solicitation(const char* target) {
    sluice::test::Ipv6Spec ip;
    ip.next_header = 58;
    ip.hop_limit = 255;
    const uint8_t multicast[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2};
    std::memcpy(ip.dst, multicast, 16);
    Bytes icmp = {135, 0, 0, 0, 0, 0, 0, 0};
    uint8_t t[16];
    REQUIRE(inet_pton(AF_INET6, target, t) == 1);
    icmp.insert(icmp.end(), t, t + 16);
    return sluice::test::ethernet(0x86dd, sluice::test::ipv6_datagram(ip, icmp, 58, 0));
}

constexpr std::array<uint8_t, 4> kOwn{198, 51, 100, 2};
constexpr std::array<uint8_t, 4> kOther{198, 51, 100, 9};

}  // namespace

TEST_CASE("the management program passes the verifier and sends the gateway's own traffic to the kernel") {
    if (geteuid() != 0) {
        WARN("loading an XDP program needs root; not run");
        return;
    }
    Program p;
    REQUIRE(p.skel != nullptr);
    p.add_v4("198.51.100.2", 32);
    p.add_v6("2001:db8::2", 128);

    SECTION("every protocol to an own address, when no service is listed") {
        CHECK(p.to_kernel(udp4_to(kOwn, 161)));
        CHECK(p.to_kernel(tcp4_to(kOwn, 22)));
        CHECK(p.to_kernel(icmp4_to(kOwn)));
        CHECK(p.to_kernel(sluice::test::udp6_frame(40000, 53)));
        CHECK_FALSE(p.to_kernel(udp4_to(kOther, 161)));
        CHECK_FALSE(p.to_kernel(tcp4_to(kOther, 22)));
    }
    SECTION("through one or two VLAN tags") {
        CHECK(p.to_kernel(udp4_to(kOwn, 161, {{0x8100, 7}})));
        CHECK(p.to_kernel(udp4_to(kOwn, 161, {{0x88a8, 100}, {0x8100, 7}})));
        CHECK_FALSE(p.to_kernel(udp4_to(kOther, 161, {{0x88a8, 100}, {0x8100, 7}})));
    }
    SECTION("ARP and neighbour discovery for own addresses only") {
        CHECK(p.to_kernel(sluice::test::arp_request()));  // asks for 198.51.100.2
        CHECK(p.to_kernel(neighbour_solicitation("2001:db8::2")));
        CHECK_FALSE(p.to_kernel(neighbour_solicitation("2001:db8::7")));
    }
    SECTION("with services listed, only those go to the kernel") {
        p.services_listed(true);
        p.add_service(6, 22);  // ssh
        p.add_service(1, 0);   // icmp, no ports
        CHECK(p.to_kernel(tcp4_to(kOwn, 22)));
        CHECK(p.to_kernel(icmp4_to(kOwn)));
        CHECK_FALSE(p.to_kernel(tcp4_to(kOwn, 80)));
        CHECK_FALSE(p.to_kernel(udp4_to(kOwn, 22)));
        CHECK_FALSE(p.to_kernel(tcp4_to(kOther, 22)));
    }
    SECTION("a prefix covers its addresses") {
        p.add_v4("203.0.113.0", 24);
        CHECK(p.to_kernel(udp4_to({203, 0, 113, 77}, 161)));
        CHECK_FALSE(p.to_kernel(udp4_to({203, 0, 114, 77}, 161)));
    }
    SECTION("listed ethertypes go to the kernel whatever they carry") {
        const Bytes lldp = sluice::test::ethernet(0x88cc, Bytes(46, 0));
        CHECK_FALSE(p.to_kernel(lldp));
        const uint16_t type = 0x88cc;
        const uint8_t one = 1;
        REQUIRE(bpf_map_update_elem(bpf_map__fd(p.skel->maps.mgmt_ethertypes), &type, &one, BPF_ANY) == 0);
        CHECK(p.to_kernel(lldp));
    }
    SECTION("frames cut short anywhere are handed on, never read past their end") {
        const Bytes whole = udp4_to(kOwn, 161, {{0x88a8, 100}, {0x8100, 7}});
        for (size_t n = 14; n < whole.size(); ++n) {
            const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
            CHECK(p.run(cut) == XDP_PASS);
        }
    }
}

TEST_CASE("the management program gives every shared case its verdict, as the exception path's matcher does") {
    if (geteuid() != 0) {
        WARN("loading an XDP program needs root; not run");
        return;
    }
    namespace mc = sluice::test::management;
    const auto filters = mc::filters();
    const auto cases = mc::cases();
    for (unsigned f = 0; f < filters.size(); ++f) {
        // A fresh program per filter: its maps hold that filter and nothing else.
        Program p;
        REQUIRE(p.skel != nullptr);
        p.load(filters[f].filter);
        for (const auto& c : cases) {
            if (c.filter != f) continue;
            INFO(c.name << " (filter: " << filters[f].name << ")");
            CHECK(p.to_kernel(c.frame) == c.to_kernel);
        }
    }
}
