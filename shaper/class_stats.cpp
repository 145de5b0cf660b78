#include "shaper/class_stats.hpp"

namespace sluice::shaper {

uint64_t DelayHistogram::quantile_ticks(double q, int floor_shift) const {
    const uint64_t n = total();
    if (n == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(n));
    if (rank >= n) rank = n - 1;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < kBuckets; ++b) {
        seen += counts_[b];
        if (seen > rank) return upper_of(b) << floor_shift;
    }
    return upper_of(kBuckets - 1) << floor_shift;
}

}  // namespace sluice::shaper
