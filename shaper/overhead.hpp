// Overhead model: what one packet costs on the wire.
//
// The length the shaper is given is the frame as the port sees it (Ethernet
// header included, FCS not). The link below may add framing (FCS, preamble
// and inter-frame gap; PPPoE; VLAN), pad short frames to a minimum unit, or
// carry everything in 53-byte ATM cells with 48 bytes of payload each. Token
// buckets are charged this wire cost, computed once at enqueue and stored
// with the packet, so every bucket on the path counts the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::shaper {

enum class Framing : uint8_t {
    none,  // bytes as they are
    atm,   // AAL5: whole 48-byte cells, 53 bytes each on the wire
    ptm,   // VDSL2 PTM 64/65: one byte more per started 64 bytes
};

struct OverheadModel {
    int32_t overhead = 0;   // bytes added to each frame (may be negative)
    uint32_t mpu = 0;       // minimum packet unit after the overhead
    Framing framing = Framing::none;

    // Wire bytes for a frame of `length` bytes. Divisions are by constants,
    // which the compiler turns into multiplications.
    uint32_t wire_cost(uint32_t length) const {
        int64_t len = int64_t{length} + overhead;
        if (len < int64_t{mpu}) len = mpu;
        if (len < 1) len = 1;
        auto n = static_cast<uint32_t>(len);
        switch (framing) {
            case Framing::none: break;
            case Framing::atm: n = (n + 47) / 48 * 53; break;
            case Framing::ptm: n += (n + 63) / 64; break;
        }
        return n;
    }

    friend bool operator==(const OverheadModel&, const OverheadModel&) = default;
};

// Named presets for common links (the policy's overhead keywords). Lengths
// are relative to the frame with its 14-byte Ethernet header, without FCS.
struct OverheadPreset {
    std::string_view name;
    OverheadModel model;
};

// Returns the preset called `name`, if there is one.
std::optional<OverheadModel> overhead_preset(std::string_view name);

}  // namespace sluice::shaper
