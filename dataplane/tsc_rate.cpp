#include "dataplane/tsc_rate.hpp"

#include <rte_cycles.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <ctime>
#include <thread>

namespace sluice::dataplane {
namespace {

struct Stamp {
    uint64_t tsc = 0;
    int64_t ns = 0;
};

int64_t raw_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The clock reading paired with the TSC halfway between the reads around it;
// of 32 tries, the one with the shortest bracket (no interrupt inside it).
Stamp stamp() {
    Stamp best;
    uint64_t narrowest = UINT64_MAX;
    for (int i = 0; i < 32; ++i) {
        const uint64_t before = rte_rdtsc_precise();
        const int64_t ns = raw_ns();
        const uint64_t after = rte_rdtsc_precise();
        if (after - before < narrowest) {
            narrowest = after - before;
            best = {before + (after - before) / 2, ns};
        }
    }
    return best;
}

}  // namespace

uint64_t measure_tsc_hz(std::chrono::milliseconds window) {
    const Stamp a = stamp();
    std::this_thread::sleep_for(window);
    const Stamp b = stamp();
    if (b.ns <= a.ns || b.tsc <= a.tsc) return 0;
    return static_cast<uint64_t>(std::llround(static_cast<double>(b.tsc - a.tsc) * 1e9 / static_cast<double>(b.ns - a.ns)));
}

uint64_t tsc_hz() {
    static const uint64_t hz = [] {
        const uint64_t dpdk = rte_get_tsc_hz();
        const uint64_t measured = measure_tsc_hz(std::chrono::milliseconds(100));
        const double ratio = dpdk ? static_cast<double>(measured) / static_cast<double>(dpdk) : 0;
        if (measured == 0 || ratio < 0.99 || ratio > 1.01) {
            spdlog::warn("TSC: measured {} Hz against the kernel's clock, DPDK says {} Hz; using DPDK's", measured, dpdk);
            return dpdk;
        }
        spdlog::info("TSC: {} Hz (measured against the kernel's clock; DPDK's figure {} Hz is {:+.3f}% off)", measured,
                     dpdk, (static_cast<double>(dpdk) / static_cast<double>(measured) - 1) * 100);
        return measured;
    }();
    return hz;
}

}  // namespace sluice::dataplane
