#include "shaper/overhead.hpp"

#include <array>

namespace sluice::shaper {

namespace {

// Ethernet on the wire adds FCS (4), preamble and SFD (8) and the
// inter-frame gap (12) to the frame, and no frame is shorter than 64 bytes
// plus those 20. The ATM rows start from an IP packet, so they subtract the
// 14-byte Ethernet header the port counted and add the encapsulation.
constexpr std::array kPresets{
    OverheadPreset{"raw", {0, 0, Framing::none}},
    OverheadPreset{"ethernet", {24, 84, Framing::none}},
    OverheadPreset{"ethernet-vlan", {28, 88, Framing::none}},
    OverheadPreset{"pppoe-ethernet", {32, 84, Framing::none}},
    OverheadPreset{"docsis", {4, 64, Framing::none}},
    OverheadPreset{"pppoa-vcmux", {10 - 14, 0, Framing::atm}},
    OverheadPreset{"pppoa-llc", {14 - 14, 0, Framing::atm}},
    OverheadPreset{"pppoe-vcmux", {32 - 14, 0, Framing::atm}},
    OverheadPreset{"pppoe-llcsnap", {40 - 14, 0, Framing::atm}},
    OverheadPreset{"bridged-vcmux", {24 - 14, 0, Framing::atm}},
    OverheadPreset{"bridged-llcsnap", {32 - 14, 0, Framing::atm}},
    OverheadPreset{"pppoe-ptm", {30 - 14, 0, Framing::ptm}},
    OverheadPreset{"bridged-ptm", {22 - 14, 0, Framing::ptm}},
};

}  // namespace

std::optional<OverheadModel> overhead_preset(std::string_view name) {
    for (const auto& p : kPresets)
        if (p.name == name) return p.model;
    return std::nullopt;
}

}  // namespace sluice::shaper
