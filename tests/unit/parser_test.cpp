// The header parser, frame by frame: what it extracts from well-formed
// frames, and the defined outcome for every kind of malformed one.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "dataplane/parser.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/guarded_buffer.hpp"

using namespace sluice::dataplane;
using namespace sluice::test;

namespace {

PacketMeta parse(const Bytes& f) {
    PacketMeta m;
    parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
    return m;
}

bool addr_is(const uint8_t* a, std::initializer_list<uint8_t> want) {
    return std::memcmp(a, std::data(want), want.size()) == 0;
}

constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOpts = 60, kAh = 51;

Bytes ipv6_frame_with(const Bytes& ext_and_l4, uint8_t first_next, uint8_t upper, size_t l4_at) {
    Ipv6Spec ip;
    ip.next_header = first_next;
    return ethernet(0x86dd, ipv6_datagram(ip, ext_and_l4, upper, l4_at));
}

// An IPv6 frame with `n` destination-options headers before UDP.
Bytes ipv6_with_ext_chain(unsigned n) {
    Bytes payload;
    for (unsigned i = 0; i < n; ++i) {
        Bytes e = ipv6_ext(i + 1 == n ? 17 : kDestOpts, Bytes(6, 0));
        payload.insert(payload.end(), e.begin(), e.end());
    }
    const size_t l4_at = payload.size();
    Bytes u = udp(5000, 6000);
    payload.insert(payload.end(), u.begin(), u.end());
    return ipv6_frame_with(payload, n ? kDestOpts : 17, 17, l4_at);
}

Bytes set_byte(Bytes f, size_t at, uint8_t v) {
    f[at] = v;
    return f;
}

}  // namespace

TEST_CASE("an IPv4 UDP frame yields addresses, ports, DSCP and ECN") {
    const auto m = parse(udp4_frame(1234, 5060, (46 << 2) | 1));
    CHECK(m.error == ParseError::none);
    CHECK(m.l3 == L3Kind::ipv4);
    CHECK(m.ethertype == 0x0800);
    CHECK(m.l3_offset == 14);
    CHECK(m.l4_offset == 34);
    CHECK(m.l4_proto == 17);
    CHECK(m.has(meta_flag::has_ports));
    CHECK(m.src_port == 1234);
    CHECK(m.dst_port == 5060);
    CHECK(m.dscp() == 46);
    CHECK(m.ecn() == 1);
    CHECK(addr_is(m.src_addr, {192, 0, 2, 1}));
    CHECK(addr_is(m.dst_addr, {198, 51, 100, 2}));
    CHECK(m.l3_len == 46);
    CHECK(m.frame_len == 60);
    CHECK_FALSE(m.has(meta_flag::fragment));
}

TEST_CASE("a TCP segment and an SCTP packet carry their ports") {
    auto t = parse(tcp4_frame(40000, 443));
    CHECK(t.error == ParseError::none);
    CHECK(t.l4_proto == 6);
    CHECK(t.src_port == 40000);
    CHECK(t.dst_port == 443);

    Ipv4Spec ip;
    ip.protocol = 132;
    auto s = parse(ethernet(0x0800, ipv4_datagram(ip, sctp(2905, 2906))));
    CHECK(s.error == ParseError::none);
    CHECK(s.l4_proto == 132);
    CHECK(s.has(meta_flag::has_ports));
    CHECK(s.src_port == 2905);
    CHECK(s.dst_port == 2906);
}

TEST_CASE("IPv4 options move the L4 header and are flagged") {
    Ipv4Spec ip;
    ip.protocol = 6;
    ip.options = {0x94, 0x04, 0x00, 0x00};  // router alert
    const auto m = parse(ethernet(0x0800, ipv4_datagram(ip, tcp(1, 2))));
    CHECK(m.error == ParseError::none);
    CHECK(m.has(meta_flag::ipv4_options));
    CHECK(m.l4_offset == 14 + 24);
    CHECK(m.dst_port == 2);
}

TEST_CASE("a minimum-size frame's Ethernet padding is not part of the datagram") {
    Ipv4Spec ip;
    const auto f = ethernet(0x0800, ipv4_datagram(ip, udp(7, 9)));
    REQUIRE(f.size() == 60);
    const auto m = parse(f);
    CHECK(m.error == ParseError::none);
    CHECK(m.l3_len == 28);
    CHECK(m.frame_len == 60);
}

TEST_CASE("VLAN and QinQ tags are read, outer first") {
    SECTION("one 802.1Q tag") {
        const auto m = parse(udp4_frame(1, 2, 0, {{0x8100, (5 << 13) | 100}}));
        CHECK(m.error == ParseError::none);
        CHECK(m.vlan_count == 1);
        CHECK(m.vlan_id(0) == 100);
        CHECK(m.vlan_pcp(0) == 5);
        CHECK(m.l3_offset == 18);
        CHECK(m.dst_port == 2);
    }
    SECTION("802.1ad outer and 802.1Q inner") {
        const auto m = parse(udp4_frame(1, 2, 0, {{0x88a8, 300}, {0x8100, (3 << 13) | 42}}));
        CHECK(m.error == ParseError::none);
        CHECK(m.vlan_count == 2);
        CHECK(m.vlan_id(0) == 300);
        CHECK(m.vlan_id(1) == 42);
        CHECK(m.vlan_pcp(1) == 3);
        CHECK(m.l3_offset == 22);
        CHECK(m.l3 == L3Kind::ipv4);
    }
    SECTION("the pre-standard 0x9100 outer tag") {
        const auto m = parse(udp4_frame(1, 2, 0, {{0x9100, 7}, {0x8100, 8}}));
        CHECK(m.vlan_count == 2);
        CHECK(m.l3 == L3Kind::ipv4);
    }
    SECTION("a third tag is carried as non-IP, not guessed at") {
        const auto m = parse(udp4_frame(1, 2, 0, {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}}));
        CHECK(m.error == ParseError::none);
        CHECK(m.vlan_count == 2);
        CHECK(m.ethertype == 0x8100);
        CHECK_FALSE(m.is_ip());
    }
}

TEST_CASE("non-IP frames pass as non-IP without error") {
    const auto arp = parse(arp_request());
    CHECK(arp.error == ParseError::none);
    CHECK_FALSE(arp.is_ip());
    CHECK(arp.ethertype == 0x0806);

    // 802.3 length field instead of an ethertype (LLC frames such as STP).
    Bytes llc = ethernet(0x0026, Bytes(38, 0x42));
    const auto m = parse(llc);
    CHECK(m.error == ParseError::none);
    CHECK_FALSE(m.is_ip());
}

TEST_CASE("an IPv6 UDP frame yields addresses, ports and traffic class") {
    const auto m = parse(udp6_frame(53, 40000, (34 << 2) | 2));
    CHECK(m.error == ParseError::none);
    CHECK(m.l3 == L3Kind::ipv6);
    CHECK(m.l4_offset == 54);
    CHECK(m.l4_proto == 17);
    CHECK(m.src_port == 53);
    CHECK(m.dst_port == 40000);
    CHECK(m.dscp() == 34);
    CHECK(m.ecn() == 2);
    CHECK(m.src_addr[0] == 0x20);
    CHECK(m.src_addr[15] == 1);
    CHECK(m.dst_addr[15] == 2);
    CHECK_FALSE(m.has(meta_flag::ipv6_extensions));
}

TEST_CASE("IPv6 extension headers are walked to the upper layer") {
    SECTION("hop-by-hop, routing and destination options before TCP") {
        Bytes p;
        for (const Bytes& e : {ipv6_ext(kRouting, Bytes(6, 0)), ipv6_ext(kDestOpts, Bytes(14, 0)),
                               ipv6_ext(6, Bytes(6, 0))}) {
            p.insert(p.end(), e.begin(), e.end());
        }
        const size_t l4_at = p.size();
        const Bytes t = tcp(22, 50000);
        p.insert(p.end(), t.begin(), t.end());
        const auto m = parse(ipv6_frame_with(p, kHopByHop, 6, l4_at));
        CHECK(m.error == ParseError::none);
        CHECK(m.has(meta_flag::ipv6_extensions));
        CHECK(m.l4_proto == 6);
        CHECK(m.l4_offset == 54 + l4_at);
        CHECK(m.src_port == 22);
    }
    SECTION("an authentication header counts its length in 4-byte words") {
        // AH: next, payload len (in 4-byte units minus 2), reserved, SPI, sequence, 8 bytes ICV.
        Bytes ah{17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        const size_t l4_at = ah.size();
        const Bytes u = udp(500, 4500);
        ah.insert(ah.end(), u.begin(), u.end());
        const auto m = parse(ipv6_frame_with(ah, kAh, 17, l4_at));
        CHECK(m.error == ParseError::none);
        CHECK(m.dst_port == 4500);
    }
    SECTION("eight extension headers are walked, nine are refused") {
        const auto ok = parse(ipv6_with_ext_chain(kMaxIpv6ExtensionHeaders));
        CHECK(ok.error == ParseError::none);
        CHECK(ok.dst_port == 6000);
        const auto bad = parse(ipv6_with_ext_chain(kMaxIpv6ExtensionHeaders + 1));
        CHECK(bad.error == ParseError::ipv6_extension_chain_too_long);
    }
}

TEST_CASE("fragments: only the first one carries ports") {
    SECTION("IPv4 first fragment") {
        Ipv4Spec ip;
        ip.more_fragments = true;
        const auto m = parse(ethernet(0x0800, ipv4_datagram(ip, udp(1000, 2000, Bytes(32, 1)))));
        CHECK(m.error == ParseError::none);
        CHECK(m.has(meta_flag::fragment));
        CHECK_FALSE(m.has(meta_flag::later_fragment));
        CHECK(m.dst_port == 2000);
    }
    SECTION("IPv4 later fragment, even when its payload looks like a header") {
        Ipv4Spec ip;
        ip.fragment_offset_units = 5;
        const auto m = parse(ethernet(0x0800, ipv4_datagram(ip, udp(1000, 2000, Bytes(32, 1)))));
        CHECK(m.error == ParseError::none);
        CHECK(m.has(meta_flag::later_fragment));
        CHECK_FALSE(m.has(meta_flag::has_ports));
        CHECK(m.src_port == 0);
        CHECK(m.l4_offset == 0);
        CHECK(m.l4_proto == 17);
    }
    SECTION("IPv6 first fragment") {
        Bytes p = ipv6_fragment_ext(17, 0, true, 77);
        const Bytes u = udp(3000, 4000, Bytes(16, 2));
        p.insert(p.end(), u.begin(), u.end());
        const auto m = parse(ipv6_frame_with(p, kFragment, 17, 8));
        CHECK(m.error == ParseError::none);
        CHECK(m.has(meta_flag::fragment));
        CHECK(m.dst_port == 4000);
    }
    SECTION("IPv6 later fragment") {
        Bytes p = ipv6_fragment_ext(17, 100, false, 77);
        const Bytes junk(24, 9);
        p.insert(p.end(), junk.begin(), junk.end());
        const auto m = parse(ipv6_frame_with(p, kFragment, 17, 8));
        CHECK(m.error == ParseError::none);
        CHECK(m.has(meta_flag::later_fragment));
        CHECK_FALSE(m.has(meta_flag::has_ports));
        CHECK(m.l4_proto == 17);
    }
}

TEST_CASE("ICMP and ICMPv6 put type and code where ports would be") {
    Ipv4Spec ip;
    ip.protocol = 1;
    const auto m = parse(ethernet(0x0800, ipv4_datagram(ip, icmp_echo(8, 1, 1))));
    CHECK(m.error == ParseError::none);
    CHECK(m.has(meta_flag::has_icmp));
    CHECK_FALSE(m.has(meta_flag::has_ports));
    CHECK(m.src_port == 8);
    CHECK(m.dst_port == 0);

    Ipv6Spec ip6;
    ip6.next_header = 58;
    const auto m6 = parse(ethernet(0x86dd, ipv6_datagram(ip6, icmp_echo(128, 1, 1), 58, 0)));
    CHECK(m6.error == ParseError::none);
    CHECK(m6.src_port == 128);
}

TEST_CASE("malformed headers get a named outcome") {
    const Bytes udp4 = udp4_frame(1, 2);      // IPv4 header at 14
    const Bytes tcp4 = tcp4_frame(1, 2);      // TCP header at 34
    const Bytes udp6 = udp6_frame(1, 2);      // IPv6 header at 14

    struct Case {
        const char* what;
        Bytes frame;
        ParseError expected;
    };
    Ipv4Spec tiny;
    tiny.protocol = 6;
    tiny.more_fragments = true;
    const Bytes tiny_first_fragment = ethernet(0x0800, ipv4_datagram(tiny, Bytes{0, 80, 0, 80}));
    Bytes ext_past_end = ipv6_ext(17, Bytes(6, 0));
    ext_past_end[1] = 3;  // claims 32 bytes where the datagram has 8

    const std::vector<Case> cases = {
        {"frame shorter than an Ethernet header", Bytes(udp4.begin(), udp4.begin() + 13), ParseError::truncated_ethernet},
        {"VLAN tag cut short", Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0x00}, ParseError::truncated_ethernet},
        {"IPv4 header cut short", Bytes(udp4.begin(), udp4.begin() + 30), ParseError::truncated_ip_header},
        {"IPv4 ethertype with version 6", set_byte(udp4, 14, 0x65), ParseError::bad_ip_version},
        {"IPv6 ethertype with version 4", set_byte(udp6, 14, 0x40), ParseError::bad_ip_version},
        {"IHL of 4 words", set_byte(udp4, 14, 0x44), ParseError::bad_ipv4_header_length},
        {"IHL larger than the total length", set_byte(set_byte(set_byte(udp4, 14, 0x46), 16, 0), 17, 22), ParseError::bad_ipv4_header_length},
        {"total length longer than the frame", set_byte(udp4, 16, 0x05), ParseError::bad_ip_total_length},
        {"total length below 20", set_byte(set_byte(udp4, 16, 0), 17, 12), ParseError::bad_ip_total_length},
        {"IPv6 payload length longer than the frame", set_byte(udp6, 18, 0x04), ParseError::bad_ip_total_length},
        {"TCP data offset below 5", set_byte(tcp4, 34 + 12, 0x40), ParseError::bad_tcp_header_length},
        {"TCP data offset past the datagram", set_byte(tcp4, 34 + 12, 0xf0), ParseError::bad_tcp_header_length},
        {"tiny first fragment without a whole TCP header", tiny_first_fragment, ParseError::truncated_l4_header},
        {"IPv6 extension header longer than the datagram", ipv6_frame_with(ext_past_end, kDestOpts, 17, 8), ParseError::truncated_ipv6_extension},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        CHECK(parse(c.frame).error == c.expected);
    }
}

TEST_CASE("a frame cut at every offset never reads past its end and is always refused") {
    Ipv4Spec opt;
    opt.protocol = 6;
    opt.options = {1, 1, 1, 1, 0x94, 4, 0, 0};
    Bytes chain;
    for (const Bytes& e : {ipv6_ext(kRouting, Bytes(6, 0)), ipv6_ext(6, Bytes(14, 0))}) {
        chain.insert(chain.end(), e.begin(), e.end());
    }
    const size_t l4_at = chain.size();
    const Bytes t = tcp(443, 50000, Bytes(20, 7));
    chain.insert(chain.end(), t.begin(), t.end());

    const std::vector<Bytes> frames = {
        ethernet(0x0800, ipv4_datagram(opt, tcp(1, 2, Bytes(30, 3)))),
        udp4_frame(1, 2, 0, {{0x88a8, 10}, {0x8100, 20}}),
        ipv6_frame_with(chain, kHopByHop, 6, l4_at),
        ipv6_with_ext_chain(5),
    };
    GuardedBuffer buf;
    for (const Bytes& f : frames) {
        REQUIRE(f.size() > 60);  // no padding: every cut loses part of the datagram
        for (size_t len = 0; len < f.size(); ++len) {
            INFO("cut at " << len << " of " << f.size());
            PacketMeta m;
            parse_frame(buf.place(f, len), static_cast<uint32_t>(len), m);
            CHECK(m.malformed());
        }
        PacketMeta whole;
        parse_frame(buf.place(f, f.size()), static_cast<uint32_t>(f.size()), whole);
        CHECK(whole.error == ParseError::none);
    }
}

TEST_CASE("headers split across buffer segments are refused, not read past the first") {
    // The first segment holds `contiguous` bytes; the frame is longer.
    const Bytes f = ipv6_with_ext_chain(3);
    const auto full = static_cast<uint32_t>(f.size());
    GuardedBuffer buf;
    PacketMeta whole;
    parse_frame(f.data(), full, whole);
    REQUIRE(whole.error == ParseError::none);
    const uint32_t headers_end = whole.l4_offset + 8u;
    for (uint32_t contiguous = 0; contiguous < headers_end; ++contiguous) {
        INFO("first segment " << contiguous << " bytes");
        PacketMeta m;
        parse_frame(buf.place(f, contiguous), contiguous, full, m);
        CHECK(m.malformed());
    }
    PacketMeta m;
    parse_frame(buf.place(f, headers_end), headers_end, full, m);
    CHECK(m.error == ParseError::none);
    CHECK(m.dst_port == 6000);
}

TEST_CASE("random corruption of valid frames never crashes and keeps offsets inside the frame") {
    const std::vector<Bytes> seeds = {
        udp4_frame(1, 2, 0, {{0x8100, 5}}), tcp4_frame(3, 4), udp6_frame(5, 6), ipv6_with_ext_chain(4),
    };
    std::mt19937 rng(20261124);
    GuardedBuffer buf;
    unsigned accepted = 0;
    for (unsigned i = 0; i < 100000; ++i) {
        Bytes f = seeds[i % seeds.size()];
        const unsigned flips = 1 + rng() % 4;
        for (unsigned k = 0; k < flips; ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
        const size_t len = f.size() - rng() % 8;
        PacketMeta m;
        parse_frame(buf.place(f, len), static_cast<uint32_t>(len), m);
        if (m.malformed() || !m.is_ip()) continue;
        ++accepted;
        REQUIRE(m.l3_offset + m.l3_len <= len);
        if (m.has(meta_flag::has_ports)) REQUIRE(m.l4_offset + 8u <= m.l3_offset + m.l3_len);
    }
    CHECK(accepted > 0);
}
