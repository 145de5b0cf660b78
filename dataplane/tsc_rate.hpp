// The TSC's rate, measured against the kernel's clock.
//
// Every rate the shaper keeps is bytes per TSC tick, so an error in the
// tick rate is the same error in every class's rate. DPDK's own figure
// (rte_get_tsc_hz) is measured once at start-up and rounded to 10 MHz where
// the CPU does not report its TSC rate, as in most VMs: up to 0.2% off on a
// 2.5 GHz TSC, and a 100 Mbit/s class then sends 99.8. The kernel calibrates
// the TSC against its own timers and steers CLOCK_MONOTONIC_RAW with it, so
// timing the TSC against that clock gives the rate the kernel uses, to a
// few parts per million after a tenth of a second.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice::dataplane {

// Times the TSC against CLOCK_MONOTONIC_RAW over `window` (the caller sleeps
// that long). Each end of the window is the tightest of a few TSC-clock-TSC
// readings, so a preemption at either end costs a retry, not accuracy.
uint64_t measure_tsc_hz(std::chrono::milliseconds window);

// The rate the programs use: measured once (100 ms, on the first call),
// falling back to DPDK's figure when the measurement disagrees with it by
// more than 1% (a clock that is not the TSC's, or a window cut short).
uint64_t tsc_hz();

}  // namespace sluice::dataplane
