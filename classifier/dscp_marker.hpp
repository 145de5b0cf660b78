// DSCP re-marking, in place.
//
// Expects:  `l3` points at the IP header that `meta` describes (frame start +
//           meta.l3_offset, inside the first segment; the parser guarantees
//           the fixed header is there for any well-formed IP packet).
// Modifies: the DSCP bits of IPv4 TOS / the IPv6 traffic class, keeping the
//           two ECN bits; the IPv4 header checksum by incremental update
//           (RFC 1624, eqn. 3) so the rest of the header is never summed;
//           meta.tos, so later stages see the new mark.
// IPv6 has no header checksum, and no L4 checksum covers the traffic class.
#pragma once

#include <cstdint>

#include "dataplane/packet_meta.hpp"

namespace sluice::classifier {

inline void set_dscp(uint8_t* l3, dataplane::PacketMeta& meta, uint8_t dscp) {
    const uint8_t old_tos = meta.tos;
    const auto new_tos = static_cast<uint8_t>((dscp << 2) | (old_tos & 0x3));
    if (new_tos == old_tos) return;
    meta.tos = new_tos;
    if (meta.l3 == dataplane::L3Kind::ipv4) {
        l3[1] = new_tos;
        // HC' = ~(~HC + ~m + m'), m being the 16-bit word that holds the TOS
        // byte under its version/IHL byte.
        const uint32_t hc = static_cast<uint32_t>((l3[10] << 8) | l3[11]);
        const uint32_t m_old = static_cast<uint32_t>((l3[0] << 8) | old_tos);
        const uint32_t m_new = static_cast<uint32_t>((l3[0] << 8) | new_tos);
        uint32_t sum = (~hc & 0xffff) + (~m_old & 0xffff) + m_new;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        const auto out = static_cast<uint16_t>(~sum);
        l3[10] = static_cast<uint8_t>(out >> 8);
        l3[11] = static_cast<uint8_t>(out);
    } else if (meta.l3 == dataplane::L3Kind::ipv6) {
        // Traffic class straddles bytes 0 and 1: version | TC high nibble, TC low nibble | flow label.
        l3[0] = static_cast<uint8_t>((l3[0] & 0xf0) | (new_tos >> 4));
        l3[1] = static_cast<uint8_t>((l3[1] & 0x0f) | (new_tos << 4));
    }
}

}  // namespace sluice::classifier
