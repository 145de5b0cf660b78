#include "classifier/meter.hpp"

#include <rte_cycles.h>

#include <algorithm>

#include <fmt/format.h>

namespace sluice::classifier {

namespace {

// A rate as rte_meter must be told it for the TSC to count it at `tick_hz`:
// rte_meter turns a rate into ticks per byte with DPDK's figure.
uint64_t for_dpdk_clock(uint64_t rate, uint64_t tick_hz) {
    const uint64_t dpdk = rte_get_tsc_hz();
    if (tick_hz == 0 || tick_hz == dpdk) return rate;
    const long double scaled = static_cast<long double>(rate) * static_cast<long double>(dpdk) / static_cast<long double>(tick_hz);
    return scaled >= static_cast<long double>(UINT64_MAX) ? UINT64_MAX : std::max<uint64_t>(1, static_cast<uint64_t>(scaled + 0.5L));
}

}  // namespace

Result<MeterProfile> MeterProfile::make(const MeterParams& p, uint64_t tick_hz) {
    const char* unit = p.unit == MeterParams::Unit::packets ? "packets" : "bytes";
    if (p.cir == 0) return Error{"committed rate (cir) must be above zero"};
    if (p.cbs == 0) return Error{fmt::format("committed burst (cbs) must be at least one packet's {}", unit)};
    if (p.cbs > UINT32_MAX || p.ebs > UINT32_MAX || p.pbs > UINT32_MAX)
        return Error{"bursts above 4 GiB cannot be metered"};
    MeterProfile out;
    out.params_ = p;
    int rc;
    if (p.kind == MeterParams::Kind::srtcm) {
        rte_meter_srtcm_params sp{for_dpdk_clock(p.cir, tick_hz), p.cbs, p.ebs};
        rc = rte_meter_srtcm_profile_config(&out.srtcm_, &sp);
    } else {
        if (p.pir < p.cir) return Error{fmt::format("peak rate (pir {}) must not be below the committed rate (cir {})", p.pir, p.cir)};
        if (p.pbs == 0) return Error{fmt::format("peak burst (pbs) must be at least one packet's {}", unit)};
        rte_meter_trtcm_params tp{for_dpdk_clock(p.cir, tick_hz), for_dpdk_clock(p.pir, tick_hz), p.cbs, p.pbs};
        rc = rte_meter_trtcm_profile_config(&out.trtcm_, &tp);
    }
    if (rc != 0) return Error{fmt::format("rte_meter refused the profile (error {})", rc)};
    return out;
}

Meter::Meter(const MeterProfile& profile, uint64_t now) {
    // rte_meter's config starts the clock at the current TSC; the caller's
    // `now` replaces it so that meters are deterministic under test.
    if (profile.params().kind == MeterParams::Kind::srtcm) {
        rte_meter_srtcm_config(&srtcm_, const_cast<rte_meter_srtcm_profile*>(&profile.srtcm()));
        srtcm_.time = now;
    } else {
        rte_meter_trtcm_config(&trtcm_, const_cast<rte_meter_trtcm_profile*>(&profile.trtcm()));
        trtcm_.time_tc = trtcm_.time_tp = now;
    }
}

}  // namespace sluice::classifier
