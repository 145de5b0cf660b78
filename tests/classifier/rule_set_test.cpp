// Classification: first match wins over the ordered rules, for every match
// field, IPv4 and IPv6, at the edges of ranges and prefixes; unmatched and
// non-IP packets get no rule (the caller's default class).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <memory>
#include <random>
#include <set>
#include <string>

#include "classifier/rule_set.hpp"
#include "dataplane/parser.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice::classifier;
using namespace sluice::dataplane;
using namespace sluice::test;

namespace {

Prefix v4(const char* text, uint8_t len) {
    Prefix p;
    p.version = 4;
    inet_pton(AF_INET, text, p.addr);
    p.length = len;
    return p;
}

Prefix v6(const char* text, uint8_t len) {
    Prefix p;
    p.version = 6;
    inet_pton(AF_INET6, text, p.addr);
    p.length = len;
    return p;
}

uint64_t dscp_set(std::initializer_list<unsigned> values) {
    uint64_t m = 0;
    for (unsigned v : values) m |= 1ull << v;
    return m;
}

PacketMeta meta_of(const Bytes& f) {
    PacketMeta m;
    parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
    REQUIRE_FALSE(m.malformed());
    return m;
}

struct Packet {
    const char* src = "192.0.2.1";
    const char* dst = "198.51.100.2";
    uint8_t proto = 17;
    uint16_t sport = 1000, dport = 2000;
    uint8_t dscp = 0;
    std::vector<VlanTag> tags;
    bool later_fragment = false;
    bool first_fragment = false;
};

Bytes frame_of(const Packet& p) {
    const bool six = std::string(p.src).find(':') != std::string::npos;
    Bytes l4 = p.proto == 6 ? tcp(p.sport, p.dport) : p.proto == 1 ? icmp_echo(8, 1, 1) : udp(p.sport, p.dport);
    Bytes ipd;
    if (six) {
        Ipv6Spec ip;
        inet_pton(AF_INET6, p.src, ip.src);
        inet_pton(AF_INET6, p.dst, ip.dst);
        ip.traffic_class = static_cast<uint8_t>(p.dscp << 2);
        if (p.later_fragment || p.first_fragment) {
            Bytes payload = ipv6_fragment_ext(p.proto, p.later_fragment ? 10 : 0, p.first_fragment, 9);
            payload.insert(payload.end(), l4.begin(), l4.end());
            ip.next_header = 44;
            ipd = ipv6_datagram(ip, payload, p.proto, 8);
        } else {
            ip.next_header = p.proto;
            ipd = ipv6_datagram(ip, l4, p.proto, 0);
        }
    } else {
        Ipv4Spec ip;
        inet_pton(AF_INET, p.src, ip.src);
        inet_pton(AF_INET, p.dst, ip.dst);
        ip.tos = static_cast<uint8_t>(p.dscp << 2);
        ip.protocol = p.proto;
        ip.more_fragments = p.first_fragment;
        ip.fragment_offset_units = p.later_fragment ? 10 : 0;
        ipd = ipv4_datagram(ip, l4);
    }
    Bytes f = ethernet(six ? 0x86dd : 0x0800, ipd);
    // Tags are inserted after the MAC addresses, outer first.
    size_t at = 12;
    for (const auto& t : p.tags) {
        const uint8_t tag[4] = {static_cast<uint8_t>(t.tpid >> 8), static_cast<uint8_t>(t.tpid),
                                static_cast<uint8_t>(t.tci >> 8), static_cast<uint8_t>(t.tci)};
        f.insert(f.begin() + static_cast<long>(at), tag, tag + 4);
        at += 4;
    }
    return f;
}

uint32_t classify_one(const RuleSet& set, const PacketMeta& m, Side side = Side::lan) {
    static auto scratch = std::make_unique<ClassifyScratch>();
    uint32_t out = 0;
    set.classify(side, &m, 1, &out, *scratch);
    return out;
}

std::shared_ptr<const RuleSet> compile(const std::vector<RuleSpec>& rules, bool allow_tables = true) {
    auto r = RuleSet::compile(rules, allow_tables);
    if (!r) FAIL(r.error());
    return *r;
}

struct Case {
    const char* what;
    Packet packet;
    uint32_t expected;
};

// Every case runs against rte_acl and, when the rules allow one, against the
// table lookup that the rule set would choose: both must agree with the case.
void run_table(const std::vector<RuleSpec>& rules, const std::vector<Case>& cases, Side side = Side::lan) {
    for (bool tables : {false, true}) {
        const auto set = compile(rules, tables);
        // The ACL path is the table path too when it holds host tables.
        if (tables && set->lookup() == RuleSet::Lookup::acl && set->host_entries() == 0) continue;
        for (const auto& c : cases) {
            INFO(c.what << (tables ? " (table lookup)" : " (rte_acl)"));
            CHECK(classify_one(*set, meta_of(frame_of(c.packet)), side) == c.expected);
        }
    }
}

// A rule that can only be told apart by the ACL path (so DSCP-only sets do not take the table).
RuleSpec any_udp() {
    RuleSpec r;
    r.protocol = 17;
    return r;
}

}  // namespace

TEST_CASE("IPv4 prefixes match at their edges") {
    ensure_eal();
    RuleSpec r0;
    r0.src = {v4("10.1.0.0", 16)};
    RuleSpec r1;
    r1.dst = {v4("203.0.113.128", 25), v4("198.51.100.2", 32)};
    run_table({r0, r1}, {
        {"first address of 10.1/16", {.src = "10.1.0.0"}, 0},
        {"last address of 10.1/16", {.src = "10.1.255.255"}, 0},
        {"just below 10.1/16", {.src = "10.0.255.255", .dst = "1.1.1.1"}, kNoRule},
        {"just above 10.1/16", {.src = "10.2.0.0", .dst = "1.1.1.1"}, kNoRule},
        {"second prefix of a list", {.src = "1.1.1.1", .dst = "198.51.100.2"}, 1},
        {"host route misses its neighbour", {.src = "1.1.1.1", .dst = "198.51.100.3"}, kNoRule},
        {"first of /25", {.src = "1.1.1.1", .dst = "203.0.113.128"}, 1},
        {"below /25", {.src = "1.1.1.1", .dst = "203.0.113.127"}, kNoRule},
    });
}

TEST_CASE("IPv6 prefixes match at their edges, across 32-bit words") {
    ensure_eal();
    RuleSpec r0;
    r0.src = {v6("2001:db8:aa00::", 40)};
    RuleSpec r1;
    r1.dst = {v6("2001:db8::1:0", 112)};
    RuleSpec r2;
    r2.src = {v4("192.0.2.0", 24)};  // an IPv4 rule never matches IPv6
    run_table({r0, r1, r2}, {
        {"inside /40", {.src = "2001:db8:aaff:ffff::1", .dst = "::1"}, 0},
        {"just outside /40", {.src = "2001:db8:ab00::", .dst = "::1"}, kNoRule},
        {"first of /112", {.src = "2001:db8::9", .dst = "2001:db8::1:0"}, 1},
        {"last of /112", {.src = "2001:db8::9", .dst = "2001:db8::1:ffff"}, 1},
        {"next /112", {.src = "2001:db8::9", .dst = "2001:db8::2:0"}, kNoRule},
        {"IPv4 still matches its own rule", {.src = "192.0.2.200"}, 2},
    });
}

TEST_CASE("port ranges and lists match at their edges; protocol narrows") {
    ensure_eal();
    RuleSpec r0;
    r0.protocol = 6;
    r0.dst_ports = {{443, 443}, {8000, 8080}};
    RuleSpec r1;
    r1.src_ports = {{5060, 5061}};
    RuleSpec r2;
    r2.protocol = 1;
    run_table({r0, r1, r2}, {
        {"tcp 443", {.proto = 6, .dport = 443}, 0},
        {"tcp 8000 (range start)", {.proto = 6, .dport = 8000}, 0},
        {"tcp 8080 (range end)", {.proto = 6, .dport = 8080}, 0},
        {"tcp 8081", {.proto = 6, .dport = 8081}, kNoRule},
        {"tcp 442", {.proto = 6, .dport = 442}, kNoRule},
        {"udp 443: wrong protocol", {.proto = 17, .dport = 443}, kNoRule},
        {"udp source 5061, any protocol with ports", {.proto = 17, .sport = 5061}, 1},
        {"tcp source 5060", {.proto = 6, .sport = 5060}, 1},
        {"source 5062", {.proto = 17, .sport = 5062}, kNoRule},
        {"icmp", {.proto = 1}, 2},
    });
}

TEST_CASE("DSCP sets match their members only") {
    ensure_eal();
    RuleSpec r0 = any_udp();
    r0.dscp = dscp_set({46});
    RuleSpec r1 = any_udp();
    r1.dscp = dscp_set({10, 12, 14, 34, 36, 38});
    RuleSpec r2 = any_udp();
    r2.dscp = dscp_set({0, 63});
    run_table({r0, r1, r2}, {
        {"EF", {.dscp = 46}, 0},
        {"AF12", {.dscp = 12}, 1},
        {"AF43", {.dscp = 38}, 1},
        {"AF13+1 is not in the set", {.dscp = 15}, kNoRule},
        {"0", {.dscp = 0}, 2},
        {"63", {.dscp = 63}, 2},
        {"62", {.dscp = 62}, kNoRule},
    });
}

TEST_CASE("DSCP-only rules use the 64-entry table, with first match and sides") {
    ensure_eal();
    RuleSpec ef;
    ef.dscp = dscp_set({46});
    RuleSpec wan_af;
    wan_af.side = SideMatch::wan;
    wan_af.dscp = dscp_set({34, 46});
    RuleSpec low;
    low.dscp = dscp_set({8, 34});
    const auto set = compile({ef, wan_af, low});
    REQUIRE(set->uses_dscp_table());
    CHECK(classify_one(*set, meta_of(frame_of({.dscp = 46})), Side::wan) == 0);
    CHECK(classify_one(*set, meta_of(frame_of({.dscp = 34})), Side::wan) == 1);
    CHECK(classify_one(*set, meta_of(frame_of({.dscp = 34})), Side::lan) == 2);
    CHECK(classify_one(*set, meta_of(frame_of({.dscp = 8})), Side::lan) == 2);
    CHECK(classify_one(*set, meta_of(frame_of({.dscp = 9})), Side::lan) == kNoRule);
    CHECK(classify_one(*set, meta_of(arp_request()), Side::lan) == kNoRule);
}

TEST_CASE("VLAN id ranges and PCP sets read the outer tag; untagged frames miss them") {
    ensure_eal();
    RuleSpec r0;
    r0.vlan = PortRange{100, 199};
    r0.pcp = 0b1110'0000;  // PCP 5-7
    RuleSpec r1;
    r1.vlan = PortRange{100, 199};
    RuleSpec r2;
    r2.pcp = 0b0000'0010;  // PCP 1 on any VLAN
    run_table({r0, r1, r2}, {
        {"vlan 100 pcp 5", {.tags = {{0x8100, (5 << 13) | 100}}}, 0},
        {"vlan 199 pcp 7", {.tags = {{0x8100, (7 << 13) | 199}}}, 0},
        {"vlan 150 pcp 4", {.tags = {{0x8100, (4 << 13) | 150}}}, 1},
        {"vlan 200 pcp 1", {.tags = {{0x8100, (1 << 13) | 200}}}, 2},
        {"vlan 99 pcp 0", {.tags = {{0x8100, 99}}}, kNoRule},
        {"untagged", {}, kNoRule},
        {"QinQ: the outer tag decides", {.tags = {{0x88a8, (6 << 13) | 120}, {0x8100, 500}}}, 0},
        {"QinQ: inner tag in range does not count", {.tags = {{0x88a8, 500}, {0x8100, 120}}}, kNoRule},
    });
}

TEST_CASE("later fragments carry no ports and match only rules that do not ask for them") {
    ensure_eal();
    RuleSpec ports;
    ports.dst_ports = {{0, 1023}};  // includes 0, the value a port-less packet would have
    RuleSpec frags;
    frags.fragment = FragmentMatch::fragment;
    RuleSpec whole;
    whole.fragment = FragmentMatch::not_fragment;
    for (const char* dst : {"198.51.100.2", "2001:db8::2"}) {
        const char* src = dst[0] == '2' && dst[1] == '0' && dst[4] == ':' ? "2001:db8::1" : "192.0.2.1";
        run_table({ports, frags, whole}, {
            {"whole packet to port 80", {.src = src, .dst = dst, .dport = 80}, 0},
            {"first fragment still has ports", {.src = src, .dst = dst, .dport = 80, .first_fragment = true}, 0},
            {"later fragment skips the port rule", {.src = src, .dst = dst, .dport = 80, .later_fragment = true}, 1},
            {"whole packet, high port", {.src = src, .dst = dst, .dport = 5000}, 2},
            {"icmp has no ports either", {.src = src, .dst = dst, .proto = 1}, 2},
        });
    }
}

TEST_CASE("rule order decides: an earlier broad rule shadows a later narrow one") {
    ensure_eal();
    RuleSpec broad;
    broad.src = {v4("10.0.0.0", 8)};
    RuleSpec narrow;
    narrow.src = {v4("10.1.2.3", 32)};
    narrow.dst_ports = {{22, 22}};
    run_table({broad, narrow}, {{"covered by the first", {.src = "10.1.2.3", .dport = 22}, 0}});
    run_table({narrow, broad}, {
        {"narrow first", {.src = "10.1.2.3", .dport = 22}, 0},
        {"then broad", {.src = "10.1.2.3", .dport = 23}, 1},
    });
}

TEST_CASE("ingress side: a rule for one side never sees the other") {
    ensure_eal();
    RuleSpec lan = any_udp();
    lan.side = SideMatch::lan;
    RuleSpec wan = any_udp();
    wan.side = SideMatch::wan;
    run_table({lan, wan}, {{"from lan", {}, 0}}, Side::lan);
    run_table({lan, wan}, {{"from wan", {}, 1}}, Side::wan);
}

TEST_CASE("non-IP frames and empty rule sets match nothing") {
    ensure_eal();
    const auto set = compile({any_udp()});
    CHECK(classify_one(*set, meta_of(arp_request())) == kNoRule);
    const auto empty = compile({});
    CHECK(classify_one(*empty, meta_of(frame_of({}))) == kNoRule);
}

TEST_CASE("a rule whose lists multiply past the limit is refused with a hint") {
    ensure_eal();
    RuleSpec r;
    for (unsigned i = 0; i < 300; ++i) r.dst_ports.push_back({static_cast<uint16_t>(i * 2), static_cast<uint16_t>(i * 2)});
    for (unsigned i = 0; i < 300; ++i) r.src_ports.push_back({static_cast<uint16_t>(i * 2), static_cast<uint16_t>(i * 2)});
    auto res = RuleSet::compile({r});
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().find("split") != std::string::npos);
}

// An independent, linear reading of the rules, to check the ACL against.
namespace {
bool in_prefix(const Prefix& p, const PacketMeta& m, bool src) {
    const uint8_t* a = src ? m.src_addr : m.dst_addr;
    if ((p.version == 4) != (m.l3 == L3Kind::ipv4)) return false;
    for (unsigned bit = 0; bit < p.length; ++bit) {
        const unsigned byte = bit / 8, shift = 7 - bit % 8;
        if (((a[byte] >> shift) & 1) != ((p.addr[byte] >> shift) & 1)) return false;
    }
    return true;
}
bool matches(const RuleSpec& r, const PacketMeta& m, Side side) {
    if (!m.is_ip()) return false;
    if (r.side != SideMatch::any && (r.side == SideMatch::lan) != (side == Side::lan)) return false;
    if (r.ip_version && r.ip_version != static_cast<uint8_t>(m.l3)) return false;
    auto any_prefix = [&](const std::vector<Prefix>& l, bool src) {
        if (l.empty()) return true;
        for (const auto& p : l) if (in_prefix(p, m, src)) return true;
        return false;
    };
    if (!any_prefix(r.src, true) || !any_prefix(r.dst, false)) return false;
    if (r.protocol && *r.protocol != m.l4_proto) return false;
    const bool ports = m.has(meta_flag::has_ports);
    auto any_port = [&](const std::vector<PortRange>& l, uint16_t v) {
        if (l.empty()) return true;
        if (!ports) return false;
        for (const auto& p : l) if (v >= p.lo && v <= p.hi) return true;
        return false;
    };
    if (!any_port(r.src_ports, m.src_port) || !any_port(r.dst_ports, m.dst_port)) return false;
    if (!((r.dscp >> m.dscp()) & 1)) return false;
    if (r.vlan && (m.vlan_count == 0 || m.vlan_id(0) < r.vlan->lo || m.vlan_id(0) > r.vlan->hi)) return false;
    if (r.pcp != 0xff && (m.vlan_count == 0 || !((r.pcp >> m.vlan_pcp(0)) & 1))) return false;
    const bool frag = m.has(meta_flag::fragment);
    if (r.fragment == FragmentMatch::fragment && !frag) return false;
    if (r.fragment == FragmentMatch::not_fragment && frag) return false;
    return true;
}

// Classifies `metas` in bursts of 64 from both sides and checks every answer
// against the linear reading; the mix must reach deep into the rule list and
// also miss it entirely, or the comparison would prove little.
void check_against_linear_reading(const RuleSet& set, const std::vector<RuleSpec>& rules,
                                  const std::vector<PacketMeta>& metas) {
    auto scratch = std::make_unique<ClassifyScratch>();
    std::set<uint32_t> seen;
    for (Side side : {Side::lan, Side::wan}) {
        for (size_t at = 0; at + 64 <= metas.size(); at += 64) {
            uint32_t out[64];
            set.classify(side, &metas[at], 64, out, *scratch);
            for (size_t k = 0; k < 64; ++k) {
                uint32_t want = kNoRule;
                for (uint32_t r = 0; r < rules.size(); ++r) {
                    if (matches(rules[r], metas[at + k], side)) {
                        want = r;
                        break;
                    }
                }
                INFO("packet " << at + k);
                REQUIRE(out[k] == want);
                seen.insert(want);
            }
        }
    }
    CHECK(seen.size() > 20);
    CHECK(seen.count(kNoRule) == 1);
}
}  // namespace

TEST_CASE("random rules and packets: the compiled set agrees with a linear first-match reading") {
    ensure_eal();
    std::mt19937 rng(4);
    const char* v4_addrs[] = {"10.0.0.1", "10.0.1.7", "10.1.0.1", "192.168.1.10", "172.16.5.4"};
    const char* v6_addrs[] = {"2001:db8::1", "2001:db8:0:1::5", "2001:db8:ffff::1", "fd00::7", "fe80::1"};
    const Prefix v4p[] = {v4("10.0.0.0", 8), v4("10.0.0.0", 24), v4("10.1.0.0", 16), v4("192.168.1.0", 24), v4("172.16.5.4", 32)};
    const Prefix v6p[] = {v6("2001:db8::", 32), v6("2001:db8:0:1::", 64), v6("fd00::", 8), v6("2001:db8:ff00::", 40)};
    std::vector<RuleSpec> rules;
    for (int i = 0; i < 300; ++i) {
        RuleSpec r;
        if (rng() % 3 == 0) r.side = rng() % 2 ? SideMatch::lan : SideMatch::wan;
        if (rng() % 3 == 0) r.src.push_back(rng() % 2 ? v4p[rng() % 5] : v6p[rng() % 4]);
        if (rng() % 3 == 0) r.dst.push_back(rng() % 2 ? v4p[rng() % 5] : v6p[rng() % 4]);
        if (rng() % 3 == 0) r.protocol = rng() % 2 ? 6 : 17;
        if (rng() % 3 == 0) {
            const auto lo = static_cast<uint16_t>(rng() % 3000);
            r.dst_ports.push_back({lo, static_cast<uint16_t>(lo + rng() % 500)});
        }
        r.dscp = (1ull << (rng() % 64)) | (1ull << (rng() % 64));  // keeps each rule narrow
        if (rng() % 6 == 0) r.vlan = PortRange{static_cast<uint16_t>(rng() % 10), static_cast<uint16_t>(10 + rng() % 10)};
        if (rng() % 8 == 0) r.fragment = rng() % 2 ? FragmentMatch::fragment : FragmentMatch::not_fragment;
        rules.push_back(r);
    }
    const auto set = compile(rules);
    std::vector<PacketMeta> metas;
    for (int i = 0; i < 4096; ++i) {  // whole bursts of 64
        const bool six = rng() % 2;
        Packet p;
        p.src = six ? v6_addrs[rng() % 5] : v4_addrs[rng() % 5];
        p.dst = six ? v6_addrs[rng() % 5] : v4_addrs[rng() % 5];
        p.proto = rng() % 2 ? 6 : 17;
        p.sport = static_cast<uint16_t>(rng() % 4000);
        p.dport = static_cast<uint16_t>(rng() % 4000);
        p.dscp = static_cast<uint8_t>(rng() % 64);
        if (rng() % 3 == 0) p.tags = {{0x8100, static_cast<uint16_t>(rng() % 25)}};
        if (rng() % 10 == 0) p.later_fragment = true;
        metas.push_back(meta_of(frame_of(p)));
    }
    check_against_linear_reading(*set, rules, metas);
}

TEST_CASE("random DSCP, protocol and port rules: the port/DSCP table agrees with a linear first-match reading") {
    ensure_eal();
    std::mt19937 rng(5060);
    std::vector<RuleSpec> rules;
    const uint8_t protos[] = {6, 17, 132, 1};
    for (int i = 0; i < 200; ++i) {
        RuleSpec r;
        if (rng() % 3 == 0) r.side = rng() % 2 ? SideMatch::lan : SideMatch::wan;
        if (rng() % 2) r.protocol = protos[rng() % 4];
        auto& ports = rng() % 2 ? r.dst_ports : r.src_ports;
        for (unsigned k = rng() % 4 == 0 ? 0 : 1 + rng() % 2; k > 0; --k) {
            const auto lo = static_cast<uint16_t>(rng() % 2000);
            ports.push_back({lo, static_cast<uint16_t>(lo + rng() % 40)});
        }
        r.dscp = 0;
        for (unsigned k = 1 + rng() % 4; k > 0; --k) r.dscp |= 1ull << (rng() % 64);
        rules.push_back(r);
    }
    const auto set = compile(rules);
    REQUIRE(set->lookup() == RuleSet::Lookup::port_dscp_table);
    std::vector<PacketMeta> metas;
    const uint8_t packet_protos[] = {6, 17, 1};
    for (int i = 0; i < 8192; ++i) {
        Packet p;
        if (rng() % 2) {
            p.src = "2001:db8::1";
            p.dst = "2001:db8::2";
        }
        p.proto = packet_protos[rng() % 3];
        p.sport = static_cast<uint16_t>(rng() % 2100);
        p.dport = static_cast<uint16_t>(rng() % 2100);
        p.dscp = static_cast<uint8_t>(rng() % 64);
        if (rng() % 10 == 0) p.later_fragment = true;
        metas.push_back(meta_of(frame_of(p)));
    }
    check_against_linear_reading(*set, rules, metas);
}

TEST_CASE("rules on whole addresses go to the host tables and keep first-match order with the ACL") {
    ensure_eal();
    RuleSpec broad;  // an ACL rule ahead of some host rules, behind others
    broad.src = {v4("10.0.0.0", 24)};
    RuleSpec host_first, host_after, host_dst, host6, host_wan, host_dup;
    host_first.src = {v4("10.0.0.1", 32)};
    host_after.src = {v4("10.0.0.2", 32), v4("10.9.0.2", 32)};
    host_dst.dst = {v4("203.0.113.7", 32)};
    host6.src = {v6("2001:db8::5", 128)};
    host_wan.side = SideMatch::wan;
    host_wan.src = {v4("10.7.0.7", 32)};
    host_dup.src = {v4("10.9.0.2", 32)};  // the same address as host_after: the earlier wins
    const std::vector<RuleSpec> rules{host_first, broad, host_after, host_dst, host6, host_wan, host_dup};
    const auto set = compile(rules);
    CHECK(set->lookup() == RuleSet::Lookup::acl);
    CHECK(set->host_entries() == 2 * 5 + 1);  // five addresses on each side, the wan rule on its own
    run_table(rules, {
        {"a host rule before the broad rule wins", {.src = "10.0.0.1"}, 0},
        {"the broad rule shadows a later host rule", {.src = "10.0.0.2"}, 1},
        {"a host rule's second address", {.src = "10.9.0.2"}, 2},
        {"a destination host", {.src = "192.0.2.9", .dst = "203.0.113.7"}, 3},
        {"an IPv6 host", {.src = "2001:db8::5", .dst = "2001:db8::9"}, 4},
        {"an IPv6 neighbour misses", {.src = "2001:db8::6", .dst = "2001:db8::9"}, kNoRule},
        {"a wan-only host from the lan misses", {.src = "10.7.0.7"}, kNoRule},
        {"no rule at all", {.src = "192.0.2.9"}, kNoRule},
    });
    run_table(rules, {{"a wan-only host from the wan", {.src = "10.7.0.7"}, 5}}, Side::wan);
}

TEST_CASE("random host and prefix rules: host tables and rte_acl together agree with a linear first-match reading") {
    ensure_eal();
    std::mt19937 rng(32);
    std::vector<std::string> hosts4, hosts6;
    for (int i = 0; i < 64; ++i) hosts4.push_back("10.0." + std::to_string(i / 8) + "." + std::to_string(i % 8 + 1));
    for (int i = 0; i < 32; ++i) hosts6.push_back("2001:db8::" + std::to_string(i + 1));
    const Prefix broad[] = {v4("10.0.0.0", 22), v4("10.0.1.0", 24), v6("2001:db8::", 120)};
    std::vector<RuleSpec> rules;
    for (int i = 0; i < 400; ++i) {
        RuleSpec r;
        if (rng() % 4 == 0) r.side = rng() % 2 ? SideMatch::lan : SideMatch::wan;
        auto& field = rng() % 2 ? r.src : r.dst;
        if (rng() % 10 == 0) {
            field.push_back(broad[rng() % 3]);  // an ACL rule among the host rules
            if (rng() % 2) r.protocol = 17;
        } else {
            for (unsigned k = 1 + rng() % 2; k > 0; --k)
                field.push_back(rng() % 3 ? v4(hosts4[rng() % 64].c_str(), 32) : v6(hosts6[rng() % 32].c_str(), 128));
        }
        if (rng() % 12 == 0) r.ip_version = rng() % 2 ? 4 : 6;
        rules.push_back(r);
    }
    const auto set = compile(rules);
    REQUIRE(set->host_entries() > 0);
    REQUIRE(set->acl_entries() > 0);
    std::vector<PacketMeta> metas;
    for (int i = 0; i < 4096; ++i) {
        const bool six = rng() % 3 == 0;
        Packet p;
        const std::string a = six ? hosts6[rng() % 32] : hosts4[rng() % 64];
        const std::string b = six ? hosts6[rng() % 32] : (rng() % 4 ? "10.0.9." + std::to_string(rng() % 200 + 1) : hosts4[rng() % 64]);
        // Some addresses that no rule names, so that misses are seen too.
        const std::string miss = six ? "2001:db8:1::" + std::to_string(rng() % 50 + 1) : "192.0.2." + std::to_string(rng() % 50 + 1);
        const std::string src = rng() % 5 ? a : miss;
        const std::string dst = rng() % 5 ? b : miss;
        p.src = src.c_str();
        p.dst = dst.c_str();
        metas.push_back(meta_of(frame_of(p)));
    }
    check_against_linear_reading(*set, rules, metas);
}
