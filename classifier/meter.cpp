#include "classifier/meter.hpp"

#include <fmt/format.h>

namespace sluice::classifier {

Result<MeterProfile> MeterProfile::make(const MeterParams& p) {
    const char* unit = p.unit == MeterParams::Unit::packets ? "packets" : "bytes";
    if (p.cir == 0) return Error{"committed rate (cir) must be above zero"};
    if (p.cbs == 0) return Error{fmt::format("committed burst (cbs) must be at least one packet's {}", unit)};
    if (p.cbs > UINT32_MAX || p.ebs > UINT32_MAX || p.pbs > UINT32_MAX)
        return Error{"bursts above 4 GiB cannot be metered"};
    MeterProfile out;
    out.params_ = p;
    int rc;
    if (p.kind == MeterParams::Kind::srtcm) {
        rte_meter_srtcm_params sp{p.cir, p.cbs, p.ebs};
        rc = rte_meter_srtcm_profile_config(&out.srtcm_, &sp);
    } else {
        if (p.pir < p.cir) return Error{fmt::format("peak rate (pir {}) must not be below the committed rate (cir {})", p.pir, p.cir)};
        if (p.pbs == 0) return Error{fmt::format("peak burst (pbs) must be at least one packet's {}", unit)};
        rte_meter_trtcm_params tp{p.cir, p.pir, p.cbs, p.pbs};
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
