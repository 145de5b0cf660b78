// Policers on DPDK's rte_meter: srTCM (RFC 2697) and trTCM (RFC 2698),
// colour-blind or colour-aware, metering bytes or packets.
//
// Profile/state split as rte_meter has it: a MeterProfile holds the
// precomputed token-bucket periods (read-only, shareable), a Meter holds the
// buckets of one policer and is touched only by the lcore that owns it. The
// caller reads the TSC once per burst and passes it in.
//
// Packet-rate meters (like `tc police pkts_rate`) reuse the byte machinery:
// every packet counts as one unit, and rates and bursts are in packets.
#pragma once

#include <rte_meter.h>

#include <cstdint>

#include "common/result.hpp"

namespace sluice::classifier {

enum class Color : uint8_t { green = 0, yellow = 1, red = 2 };

struct MeterParams {
    enum class Kind : uint8_t { srtcm, trtcm } kind = Kind::srtcm;
    enum class Unit : uint8_t { bytes, packets } unit = Unit::bytes;
    bool color_aware = false;
    uint64_t cir = 0;  // committed rate: bytes/s, or packets/s
    uint64_t cbs = 0;  // committed burst: bytes, or packets
    uint64_t ebs = 0;  // srTCM excess burst
    uint64_t pir = 0;  // trTCM peak rate
    uint64_t pbs = 0;  // trTCM peak burst
};

// The pre-colour of a packet for colour-aware meters, from its DSCP's AF drop
// precedence (RFC 2597): AFx1 green, AFx2 yellow, AFx3 red; anything else green.
constexpr Color color_from_dscp(uint8_t dscp) {
    const uint8_t cls = dscp >> 3, drop = (dscp >> 1) & 0x3;
    if (cls < 1 || cls > 4 || (dscp & 1) != 0 || drop == 0) return Color::green;
    return drop == 1 ? Color::green : drop == 2 ? Color::yellow : Color::red;
}

class MeterProfile {
public:
    // Needs the EAL (rte_meter reads the TSC frequency). Refuses parameters
    // rte_meter would reject, with a message that says which. `tick_hz`:
    // the TSC rate the caller keeps time by, when it knows better than
    // DPDK's rounded figure (0: DPDK's); rte_meter times with DPDK's, so
    // the rates it is given are scaled by the two figures' ratio.
    static Result<MeterProfile> make(const MeterParams& params, uint64_t tick_hz = 0);

    const MeterParams& params() const { return params_; }
    const rte_meter_srtcm_profile& srtcm() const { return srtcm_; }
    const rte_meter_trtcm_profile& trtcm() const { return trtcm_; }

private:
    MeterParams params_;
    rte_meter_srtcm_profile srtcm_{};
    rte_meter_trtcm_profile trtcm_{};
};

class Meter {
public:
    // Buckets start full, as both RFCs say, with the clock at `now` (TSC).
    Meter(const MeterProfile& profile, uint64_t now);

    // Colours one packet of `len` bytes arriving at `tsc`; `pre` is its
    // colour from upstream, ignored by colour-blind meters.
    Color check(const MeterProfile& profile, uint64_t tsc, uint32_t len, Color pre = Color::green) {
        const MeterParams& p = profile.params();
        const uint32_t units = p.unit == MeterParams::Unit::packets ? 1u : len;
        // rte_meter takes the profile by non-const pointer but only reads it.
        rte_color c;
        if (p.kind == MeterParams::Kind::srtcm) {
            auto& prof = const_cast<rte_meter_srtcm_profile&>(profile.srtcm());
            c = p.color_aware
                    ? rte_meter_srtcm_color_aware_check(&srtcm_, &prof, tsc, units, static_cast<rte_color>(pre))
                    : rte_meter_srtcm_color_blind_check(&srtcm_, &prof, tsc, units);
        } else {
            auto& prof = const_cast<rte_meter_trtcm_profile&>(profile.trtcm());
            c = p.color_aware
                    ? rte_meter_trtcm_color_aware_check(&trtcm_, &prof, tsc, units, static_cast<rte_color>(pre))
                    : rte_meter_trtcm_color_blind_check(&trtcm_, &prof, tsc, units);
        }
        return static_cast<Color>(c);
    }

private:
    rte_meter_srtcm srtcm_{};
    rte_meter_trtcm trtcm_{};
};

static_assert(static_cast<int>(Color::green) == RTE_COLOR_GREEN);
static_assert(static_cast<int>(Color::yellow) == RTE_COLOR_YELLOW);
static_assert(static_cast<int>(Color::red) == RTE_COLOR_RED);

}  // namespace sluice::classifier
