// libFuzzer harness for the header parser (dataplane/parser.hpp).
//
// Input: one Ethernet frame, as the port would hand it over. Each frame is
// parsed with every byte contiguous, and again with only a prefix of it
// contiguous (the first segment of a chained mbuf), each time from a heap
// copy of exactly the readable bytes, so that AddressSanitizer catches any
// read past `contiguous`.
//
// Beyond crashes, it checks what must hold for any frame: offsets and lengths
// in the metadata lie inside the frame, flags agree with each other and with
// the outcome, and a parse that succeeded on a prefix is the parse of the
// whole frame (it read nothing it did not have).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dataplane/parser.hpp"

using namespace sluice::dataplane;

namespace {

[[noreturn]] void fail(const char* what, const PacketMeta& m, uint32_t contiguous) {
    std::fprintf(stderr,
                 "parser invariant broken: %s\n"
                 "  contiguous %u frame_len %u error %s l3 %u ethertype 0x%04x vlans %u\n"
                 "  l3_offset %u l3_len %u l4_offset %u l4_proto %u flags 0x%02x ports %u/%u\n",
                 what, contiguous, m.frame_len, parse_error_name(m.error), static_cast<unsigned>(m.l3),
                 m.ethertype, m.vlan_count, m.l3_offset, m.l3_len, m.l4_offset, m.l4_proto, m.flags,
                 m.src_port, m.dst_port);
    std::abort();
}

#define EXPECT(cond, m, contiguous)                    \
    do {                                               \
        if (!(cond)) fail(#cond, (m), (contiguous));   \
    } while (0)

PacketMeta parse_copy(const uint8_t* data, uint32_t contiguous, uint32_t frame_len) {
    // Exactly `contiguous` bytes on the heap: one byte more is a reported overflow.
    std::unique_ptr<uint8_t[]> copy(new uint8_t[contiguous ? contiguous : 1]);
    if (contiguous) std::memcpy(copy.get(), data, contiguous);
    PacketMeta m;
    parse_frame(copy.get(), contiguous, frame_len, m);
    return m;
}

void check(const PacketMeta& m, uint32_t contiguous, uint32_t frame_len) {
    EXPECT(m.frame_len == frame_len, m, contiguous);
    EXPECT(static_cast<unsigned>(m.error) < kParseErrorCount, m, contiguous);
    EXPECT(m.vlan_count <= kMaxVlanTags, m, contiguous);
    for (unsigned i = m.vlan_count; i < kMaxVlanTags; ++i) EXPECT(m.vlan_tci[i] == 0, m, contiguous);
    EXPECT(!(m.has(meta_flag::has_ports) && m.has(meta_flag::has_icmp)), m, contiguous);
    EXPECT(!m.has(meta_flag::later_fragment) || m.has(meta_flag::fragment), m, contiguous);

    if (contiguous < 14) {
        EXPECT(m.error == ParseError::truncated_ethernet, m, contiguous);
        return;
    }
    if (m.error == ParseError::truncated_ethernet) {
        // Only a VLAN tag cut short, and then nothing past the tags was looked at.
        EXPECT(m.vlan_count < kMaxVlanTags && !m.is_ip() && m.flags == 0, m, contiguous);
        return;
    }
    // The L3 header starts right after the Ethernet header and the tags read.
    EXPECT(m.l3_offset == 14u + 4u * m.vlan_count, m, contiguous);

    if (!m.is_ip()) {
        // Non-IP frames carry through untouched; an IP ethertype is always IP
        // or an error that says why not.
        EXPECT(m.flags == 0 && m.l4_offset == 0 && m.l3_len == 0, m, contiguous);
        EXPECT((m.ethertype != 0x0800 && m.ethertype != 0x86dd) || m.malformed(), m, contiguous);
        EXPECT(!m.malformed() || m.ethertype == 0x0800 || m.ethertype == 0x86dd, m, contiguous);
        return;
    }

    EXPECT(m.ethertype == (m.l3 == L3Kind::ipv4 ? 0x0800 : 0x86dd), m, contiguous);
    // The datagram as declared lies inside the frame.
    EXPECT(m.l3_len >= (m.l3 == L3Kind::ipv4 ? 20u : 40u), m, contiguous);
    EXPECT(uint32_t{m.l3_offset} + m.l3_len <= frame_len, m, contiguous);
    EXPECT(m.l3 == L3Kind::ipv4 || !m.has(meta_flag::ipv4_options), m, contiguous);
    EXPECT(m.l3 == L3Kind::ipv6 || !m.has(meta_flag::ipv6_extensions), m, contiguous);

    if (m.l4_offset != 0) {
        // The L4 header starts after the fixed IP header and inside the datagram.
        const uint32_t l3_end = uint32_t{m.l3_offset} + m.l3_len;
        EXPECT(m.l4_offset >= m.l3_offset + (m.l3 == L3Kind::ipv4 ? 20u : 40u), m, contiguous);
        EXPECT(m.l4_offset <= l3_end, m, contiguous);
        EXPECT(!m.has(meta_flag::later_fragment), m, contiguous);
        if (m.has(meta_flag::has_ports) || m.has(meta_flag::has_icmp)) {
            // The ports (or ICMP type and code) came from bytes that were there.
            const uint32_t need = m.has(meta_flag::has_icmp) ? 4u : m.l4_proto == 6 ? 20u : m.l4_proto == 132 ? 12u : 8u;
            EXPECT(m.l4_offset + need <= contiguous && m.l4_offset + need <= l3_end, m, contiguous);
        }
    } else {
        // No L4 header: a later fragment or a header that could not be read.
        EXPECT(m.has(meta_flag::later_fragment) || m.malformed(), m, contiguous);
    }
    if (m.has(meta_flag::has_ports)) {
        EXPECT(m.l4_proto == 6 || m.l4_proto == 17 || m.l4_proto == 132 || m.l4_proto == 136, m, contiguous);
    }
    if (m.has(meta_flag::has_icmp)) {
        EXPECT(m.l4_proto == 1 || m.l4_proto == 58, m, contiguous);
    }
    if (!m.has(meta_flag::has_ports) && !m.has(meta_flag::has_icmp)) {
        EXPECT(m.src_port == 0 && m.dst_port == 0, m, contiguous);
    }
}

// Field by field: padding bytes are not part of the result.
bool same(const PacketMeta& a, const PacketMeta& b) {
    return std::memcmp(a.src_addr, b.src_addr, sizeof(a.src_addr)) == 0 &&
           std::memcmp(a.dst_addr, b.dst_addr, sizeof(a.dst_addr)) == 0 && a.frame_len == b.frame_len &&
           a.l3_offset == b.l3_offset && a.l4_offset == b.l4_offset && a.l3_len == b.l3_len &&
           a.ethertype == b.ethertype && a.vlan_tci[0] == b.vlan_tci[0] && a.vlan_tci[1] == b.vlan_tci[1] &&
           a.src_port == b.src_port && a.dst_port == b.dst_port && a.vlan_count == b.vlan_count && a.l3 == b.l3 &&
           a.l4_proto == b.l4_proto && a.tos == b.tos && a.flags == b.flags && a.error == b.error;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 0xffff) return -1;  // an mbuf chain's pkt_len is 32 bits, but frames stay far below
    const auto len = static_cast<uint32_t>(size);

    const PacketMeta whole = parse_copy(data, len, len);
    check(whole, len, len);

    // The same frame with only a prefix contiguous, at cuts inside each header.
    for (uint32_t cut : {0u, 13u, 14u, 17u, 18u, 22u, 33u, 34u, 38u, 42u, 53u, 54u, 58u, 62u, 74u, 128u, len - 1}) {
        if (cut >= len) continue;
        const PacketMeta part = parse_copy(data, cut, len);
        check(part, cut, len);
        // Having read only what it had, a successful parse of the prefix is
        // the parse of the whole frame.
        if (!part.malformed() && !same(part, whole)) {
            fail("a prefix parsed without error but differently from the whole frame", part, cut);
        }
    }
    return 0;
}
