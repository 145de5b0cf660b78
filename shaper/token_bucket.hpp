// Token buckets kept in time, in fixed point.
//
// A bucket holds "how long the class may keep sending at its rate": tokens
// are clock ticks scaled by 2^kTokenShift. Refill is lazy: whoever looks at a
// bucket adds the ticks elapsed since it was last looked at, capped at the
// bucket size. Sending a packet subtracts its wire cost times the profile's
// ticks-per-byte, precomputed once per rate, so the packet path multiplies
// and never divides; a class that went negative knows exactly how long to
// sleep (minus its tokens) without dividing either. This is HTB's scheme
// with the TSC instead of nanoseconds.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice::shaper {

inline constexpr int kTokenShift = 20;

__extension__ using uint128 = unsigned __int128;
__extension__ using int128 = __int128;

// Precomputed from (rate, burst, tick rate); shared by the two buckets of a
// class (rate and ceil each get one).
struct BucketProfile {
    uint64_t cost_per_byte = 0;  // fixed-point ticks per byte
    int64_t size = 0;            // bucket depth, fixed-point ticks

    // rate in bytes/s, burst in bytes; rate must be > 0.
    static BucketProfile make(uint64_t tick_hz, uint64_t rate, uint64_t burst) {
        BucketProfile p;
        p.cost_per_byte = static_cast<uint64_t>(
            ((uint128{tick_hz} << kTokenShift) + rate / 2) / rate);
        if (p.cost_per_byte == 0) p.cost_per_byte = 1;
        const uint128 size = uint128{p.cost_per_byte} * burst;
        p.size = static_cast<int64_t>(std::min<uint128>(size, uint128{1} << 61));
        return p;
    }

    int64_t cost(uint32_t wire_bytes) const {
        return static_cast<int64_t>(cost_per_byte * wire_bytes);
    }
};

// Longest idle time credited at once; keeps the shifted value in range.
inline constexpr uint64_t kMaxCreditTicks = uint64_t{1} << 40;

inline int64_t credit(uint64_t elapsed_ticks) {
    return static_cast<int64_t>(std::min(elapsed_ticks, kMaxCreditTicks) << kTokenShift);
}

// Adds `credit` and takes `cost`, clamping to the bucket size above and to
// a bounded debt below (a huge packet at a tiny rate cannot wrap around).
inline int64_t account(int64_t tokens, int64_t credit_fp, int64_t cost_fp, int64_t size) {
    int64_t t = std::min(tokens + credit_fp, size) - cost_fp;
    constexpr int64_t kFloor = -(int64_t{1} << 61);
    return std::max(t, kFloor);
}

// Rescales tokens from one ticks-per-byte to another, so a live rate change
// keeps the bytes a class has saved up or owes.
inline int64_t rescale(int64_t tokens, uint64_t old_cost, uint64_t new_cost) {
    const int128 t = int128{tokens} * static_cast<int128>(new_cost) / static_cast<int128>(old_cost);
    constexpr int64_t kLim = int64_t{1} << 61;
    return static_cast<int64_t>(std::clamp<int128>(t, -kLim, kLim));
}

}  // namespace sluice::shaper
