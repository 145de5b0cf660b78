// Header parser: one frame in, one PacketMeta out.
//
// Expects: the frame's first bytes contiguous in memory (`contiguous` bytes of
//          them readable) and the frame's total length `frame_len`.
// Writes:  every field of `meta`; never reads outside [data, data + contiguous).
// Outcome: meta.error == none for well-formed frames, IP or not; otherwise the
//          first defect found. A non-IP frame (ARP, LLDP, ...) is not an error.
//
// It does no DPDK calls, so tests drive it with plain byte arrays.
#pragma once

#include <cstdint>

#include "dataplane/packet_meta.hpp"

namespace sluice::dataplane {

void parse_frame(const uint8_t* data, uint32_t contiguous, uint32_t frame_len, PacketMeta& meta);

inline void parse_frame(const uint8_t* data, uint32_t len, PacketMeta& meta) {
    parse_frame(data, len, len, meta);
}

}  // namespace sluice::dataplane
