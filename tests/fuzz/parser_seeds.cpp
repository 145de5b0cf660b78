// Writes the parser fuzzer's seed frames into a directory: one frame of each
// kind the unit tests build (tests/support/frame_builder), so that fuzzing
// starts from every header the parser knows.
//
//   build-fuzz/tests/fuzz/parser_seeds tests/fuzz/corpus/parser
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/frame_builder.hpp"

using namespace sluice::test;

namespace {

constexpr uint8_t kHopByHop = 0, kTcp = 6, kUdp = 17, kRouting = 43, kFragment = 44, kAh = 51, kIcmpv6 = 58,
                  kDestOpts = 60, kSctp = 132;

Bytes ipv4_with(uint8_t protocol, const Bytes& l4, uint16_t fragment_offset = 0, bool more = false,
                Bytes options = {}) {
    Ipv4Spec ip;
    ip.protocol = protocol;
    ip.fragment_offset_units = fragment_offset;
    ip.more_fragments = more;
    ip.options = std::move(options);
    return ethernet(0x0800, ipv4_datagram(ip, l4));
}

// An IPv6 frame whose payload is the extension headers `exts` (first one
// named by `first`), then `l4` of protocol `upper`.
Bytes ipv6_with(uint8_t first, const std::vector<Bytes>& exts, uint8_t upper, const Bytes& l4) {
    Bytes payload;
    for (const Bytes& e : exts) payload.insert(payload.end(), e.begin(), e.end());
    const size_t l4_at = payload.size();
    payload.insert(payload.end(), l4.begin(), l4.end());
    Ipv6Spec ip;
    ip.next_header = first;
    return ethernet(0x86dd, ipv6_datagram(ip, payload, upper, l4_at));
}

Bytes ah(uint8_t next) {
    // Authentication header: length in 4-byte words minus 2; 12 bytes of ICV.
    Bytes b{next, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
    b.resize(24, 0);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    const std::vector<std::pair<std::string, Bytes>> seeds = {
        {"udp4", udp4_frame(1234, 5060, (46 << 2) | 1)},
        {"tcp4", tcp4_frame(40000, 443)},
        {"udp6", udp6_frame(5000, 6000, 0xb8)},
        {"arp", arp_request()},
        {"sctp4", ipv4_with(kSctp, sctp(2905, 2905))},
        {"icmp4", ipv4_with(1, icmp_echo(8, 1, 1, Bytes(8, 0x61)))},
        {"tcp4-payload", ipv4_with(kTcp, tcp(22, 50000, Bytes(40, 0x55), 0x18))},
        {"udp4-vlan", udp4_frame(53, 53, 0, {{0x8100, 0x2064}})},
        {"udp4-qinq", udp4_frame(53, 53, 0, {{0x88a8, 0x0010}, {0x8100, 0x6020}})},
        {"udp4-qinq-old", udp4_frame(53, 53, 0, {{0x9100, 0x0010}, {0x8100, 0x0020}})},
        {"udp4-three-tags", udp4_frame(53, 53, 0, {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}})},
        {"ipv4-options", ipv4_with(kUdp, udp(1, 2), 0, false, {0x94, 0x04, 0x00, 0x00})},
        {"ipv4-first-fragment", ipv4_with(kUdp, udp(1, 2, Bytes(16, 1)), 0, true)},
        {"ipv4-later-fragment", ipv4_with(kUdp, Bytes(16, 1), 3, false)},
        {"ipv4-gre", ipv4_with(47, Bytes(8, 0))},
        {"icmp6", ipv6_with(kIcmpv6, {}, kIcmpv6, icmp_echo(128, 1, 1))},
        {"ipv6-ext-chain",
         ipv6_with(kHopByHop,
                   {ipv6_ext(kRouting, Bytes(6, 0)), ipv6_ext(kDestOpts, Bytes(14, 0)), ipv6_ext(kTcp, Bytes(6, 0))},
                   kTcp, tcp(1000, 80))},
        {"ipv6-ah", ipv6_with(kAh, {ah(kUdp)}, kUdp, udp(500, 4500))},
        {"ipv6-first-fragment", ipv6_with(kFragment, {ipv6_fragment_ext(kUdp, 0, true, 7)}, kUdp, udp(9, 9, Bytes(8, 2)))},
        {"ipv6-later-fragment", ipv6_with(kFragment, {ipv6_fragment_ext(kUdp, 2, false, 7)}, kUdp, Bytes(16, 2))},
        {"sctp6", ipv6_with(kSctp, {}, kSctp, sctp(36412, 36412))},
        {"lldp", ethernet(0x88cc, Bytes(30, 0))},
    };
    for (const auto& [name, frame] : seeds) {
        const std::string path = std::string(argv[1]) + "/" + name + ".bin";
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            return 1;
        }
    }
    return 0;
}
