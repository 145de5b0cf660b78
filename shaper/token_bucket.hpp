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

// ---------------------------------------------------------------- catching up
//
// The caller reads its clock once per turn, and between two turns its thread
// may lose the CPU for milliseconds (a busy neighbour on the core, a VM's
// steal time). A class that was sending at its rate then finds its bucket
// full at its size, one burst (1 ms by default), and the rest of the gap's
// credit gone: it would lose nearly the share of time its worker does not
// run. So when the clock jumps by more than a stall (`stall_ticks`),
// the scheduler catches up: for one horizon after the jump, a refill may
// fill a bucket beyond its size with the ticks elapsed since the bucket's
// last refill, up to the gaps of that period (never more than one horizon),
// and credit a bucket already holds beyond its size is kept until the
// period ends. A bucket therefore never holds more than the larger of its
// size and one horizon: over any window T a class sends at most rate x T
// plus that (and one packet), and what a gap longer than the horizon owes
// beyond it is lost, as HTB loses all of it. Tokens are time, so the
// horizon is the same number of fixed-point ticks for every class.
//
// A bucket's refill asks limit() for its cap: outside the period after a
// jump (the normal case, one predictable branch) that is its size.
class CatchUp {
public:
    CatchUp() = default;
    // horizon_ticks 0: never catch up.
    CatchUp(uint64_t horizon_ticks, uint64_t stall_ticks)
        : horizon_(std::min(horizon_ticks, kMaxCreditTicks)), stall_(stall_ticks) {}

    // The clock moved on from `before` to `now` (> before); `owed`: packets
    // waited meanwhile, so a stall is service lost.
    void observe(uint64_t before, uint64_t now, bool owed = true) {
        if (now >= until_) allowance_ = 0;
        if (owed && now - before > stall_ && horizon_ != 0) {
            allowance_ = std::min(allowance_ + std::min(now - before, horizon_), horizon_);
            until_ = now + horizon_;
            allowance_fp_ = static_cast<int64_t>(allowance_ << kTokenShift);
        }
        active_ = now < until_;
    }

    // The most a bucket of `size` that holds `tokens` may hold after a
    // refill of `credit_fp` (the ticks since its last refill, shifted).
    int64_t limit(int64_t size, int64_t tokens, int64_t credit_fp) const {
        if (!active_) [[likely]]
            return size;
        return std::max({size, tokens, std::min(credit_fp, allowance_fp_)});
    }

private:
    uint64_t horizon_ = 0;
    uint64_t stall_ = 0;
    uint64_t until_ = 0;      // the period after the last jump ends here
    uint64_t allowance_ = 0;  // the gaps of the period, at most a horizon
    int64_t allowance_fp_ = 0;
    bool active_ = false;
};

// Rescales tokens from one ticks-per-byte to another, so a live rate change
// keeps the bytes a class has saved up or owes.
inline int64_t rescale(int64_t tokens, uint64_t old_cost, uint64_t new_cost) {
    const int128 t = int128{tokens} * static_cast<int128>(new_cost) / static_cast<int128>(old_cost);
    constexpr int64_t kLim = int64_t{1} << 61;
    return static_cast<int64_t>(std::clamp<int128>(t, -kLim, kLim));
}

}  // namespace sluice::shaper
