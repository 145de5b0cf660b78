// Classification cost on one core: ns per packet and Mpps for the DSCP-table
// case and for 10, 1,000 and 10,000 multi-field rules, IPv4 and IPv6 mixes.
// Prints one line per case; run it on an otherwise idle core.
//
//   build/tests/classifier/classifier_bench
#include <rte_cycles.h>

#include <arpa/inet.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "classifier/rule_set.hpp"
#include "dataplane/parser.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice::classifier;
using namespace sluice::dataplane;
using namespace sluice::test;

namespace {

constexpr uint32_t kBurst = 32;
constexpr size_t kPackets = 8192;

Prefix v4_prefix(uint32_t addr, uint8_t len) {
    Prefix p;
    p.version = 4;
    p.addr[0] = static_cast<uint8_t>(addr >> 24);
    p.addr[1] = static_cast<uint8_t>(addr >> 16);
    p.addr[2] = static_cast<uint8_t>(addr >> 8);
    p.addr[3] = static_cast<uint8_t>(addr);
    p.length = len;
    return p;
}

Prefix v6_prefix(uint32_t site, uint8_t len) {
    Prefix p;
    p.version = 6;
    const uint8_t base[] = {0x20, 0x01, 0x0d, 0xb8};
    std::copy(base, base + 4, p.addr);
    p.addr[4] = static_cast<uint8_t>(site >> 8);
    p.addr[5] = static_cast<uint8_t>(site);
    p.length = len;
    return p;
}

// Rules as a campus or ISP edge writes them: a subscriber or department
// prefix, a protocol, a service port range, sometimes a DSCP set.
std::vector<RuleSpec> multi_field_rules(unsigned n, std::mt19937& rng) {
    std::vector<RuleSpec> rules;
    for (unsigned i = 0; i < n; ++i) {
        RuleSpec r;
        if (i % 2 == 0) {
            r.src = {v4_prefix(0x0a000000u | (i << 8), 24)};
        } else {
            r.src = {v6_prefix(i, 48)};
        }
        r.protocol = rng() % 2 ? 6 : 17;
        const auto lo = static_cast<uint16_t>(1 + rng() % 60000);
        r.dst_ports = {{lo, static_cast<uint16_t>(lo + rng() % 16)}};
        if (rng() % 4 == 0) r.dscp = (1ull << 46) | (1ull << 34) | (1ull << 0);
        rules.push_back(r);
    }
    return rules;
}

std::vector<RuleSpec> dscp_rules() {
    std::vector<RuleSpec> rules;
    for (unsigned d : {46u, 34u, 36u, 38u, 26u, 18u, 10u, 8u, 0u}) {
        RuleSpec r;
        r.dscp = 1ull << d;
        rules.push_back(r);
    }
    return rules;
}

// The home/office case: a service port (and protocol) plus a DSCP set.
std::vector<RuleSpec> port_dscp_rules(unsigned n, std::mt19937& rng) {
    std::vector<RuleSpec> rules;
    for (unsigned i = 0; i < n; ++i) {
        RuleSpec r;
        r.protocol = rng() % 2 ? 6 : 17;
        const auto lo = static_cast<uint16_t>(1 + rng() % 60000);
        r.dst_ports = {{lo, static_cast<uint16_t>(lo + rng() % 16)}};
        if (rng() % 2) r.dscp = (1ull << 46) | (1ull << 34) | (1ull << 0);
        rules.push_back(r);
    }
    return rules;
}

std::vector<PacketMeta> traffic(bool v6_mix, unsigned rules, std::mt19937& rng) {
    std::vector<PacketMeta> out(kPackets);
    for (auto& m : out) {
        const bool six = v6_mix ? rng() % 2 == 0 : false;
        const unsigned i = rules ? static_cast<unsigned>(rng() % rules) : 0;
        Bytes f;
        const auto dscp = static_cast<uint8_t>(rng() % 64);
        if (six) {
            Ipv6Spec ip;
            ip.src[4] = static_cast<uint8_t>(i >> 8);
            ip.src[5] = static_cast<uint8_t>(i);
            ip.traffic_class = static_cast<uint8_t>(dscp << 2);
            f = ethernet(0x86dd, ipv6_datagram(ip, udp(static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng())), 17, 0));
        } else {
            Ipv4Spec ip;
            ip.src[0] = 10;
            ip.src[1] = static_cast<uint8_t>(i >> 16);
            ip.src[2] = static_cast<uint8_t>(i >> 8);
            ip.src[3] = static_cast<uint8_t>(rng());
            ip.tos = static_cast<uint8_t>(dscp << 2);
            ip.protocol = rng() % 2 ? 6 : 17;
            const Bytes l4 = ip.protocol == 6 ? tcp(static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()))
                                              : udp(static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()));
            f = ethernet(0x0800, ipv4_datagram(ip, l4));
        }
        parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
    }
    return out;
}

void measure(const char* name, const RuleSet& set, const std::vector<PacketMeta>& metas) {
    auto scratch = std::make_unique<ClassifyScratch>();
    std::vector<uint32_t> out(kBurst);
    uint64_t sink = 0;
    // Warm up, then run for about half a second.
    for (size_t at = 0; at < metas.size(); at += kBurst) set.classify(Side::lan, &metas[at], kBurst, out.data(), *scratch);
    const uint64_t hz = rte_get_tsc_hz();
    uint64_t packets = 0;
    const uint64_t start = rte_rdtsc_precise();
    uint64_t now = start;
    while (now - start < hz / 2) {
        for (size_t at = 0; at < metas.size(); at += kBurst) {
            set.classify(Side::lan, &metas[at], kBurst, out.data(), *scratch);
            sink += out[0];
        }
        packets += metas.size();
        now = rte_rdtsc_precise();
    }
    const double seconds = static_cast<double>(now - start) / static_cast<double>(hz);
    const double ns = seconds * 1e9 / static_cast<double>(packets);
    const char* lookup = set.lookup() == RuleSet::Lookup::dscp_table        ? "dscp table"
                         : set.lookup() == RuleSet::Lookup::port_dscp_table ? "port/dscp table"
                                                                             : "rte_acl";
    fmt::print("{:<34} {:>8.1f} ns/packet {:>8.1f} Mpps   ({}, {} acl entries) [{}]\n", name, ns,
               static_cast<double>(packets) / seconds / 1e6, lookup, set.acl_entries(), sink % 2);
}

}  // namespace

int main() {
    ensure_eal();
    std::mt19937 rng(7);
    fmt::print("classifier benchmark, burst {}, {} packets in the working set, TSC {} MHz\n", kBurst, kPackets,
               rte_get_tsc_hz() / 1000000);
    {
        auto set = RuleSet::compile(dscp_rules());
        measure("DSCP only (9 rules), IPv4", **set, traffic(false, 0, rng));
        measure("DSCP only (9 rules), IPv4+IPv6", **set, traffic(true, 0, rng));
    }
    {
        auto set = RuleSet::compile(port_dscp_rules(100, rng));
        measure("DSCP + port (100 rules), IPv4", **set, traffic(false, 0, rng));
        measure("DSCP + port (100 rules), IPv4+IPv6", **set, traffic(true, 0, rng));
    }
    for (unsigned n : {10u, 1000u, 10000u}) {
        const auto rules = multi_field_rules(n, rng);
        const auto t0 = std::chrono::steady_clock::now();
        auto set = RuleSet::compile(rules, /*allow_tables=*/false);
        const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (!set) {
            fmt::print("{} rules: {}\n", n, set.error());
            return 1;
        }
        fmt::print("{} multi-field rules compiled in {:.0f} ms\n", n, ms);
        measure(fmt::format("{} rules, IPv4", n).c_str(), **set, traffic(false, n, rng));
        measure(fmt::format("{} rules, IPv4+IPv6", n).c_str(), **set, traffic(true, n, rng));
    }
    return 0;
}
