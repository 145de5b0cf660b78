// Per-class counters and the queueing-delay histogram.
//
// Every packet that enters a class either departs (packets, bytes, and its
// wait goes into the histogram) or is dropped under exactly one named
// reason, so an operator can always tell where packets went. Counters are
// written only by the worker that owns the scheduler and read by copying a
// snapshot on the control path.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string_view>

namespace sluice::shaper {

enum class DropReason : uint8_t {
    queue_limit,     // the class queue was full (packets or bytes)
    codel,           // CoDel judged the queue standing
    pool_exhausted,  // no packet slot left in the scheduler
    unknown_class,   // no class with that id
    not_a_leaf,      // packets are queued only in leaves
    class_removed,   // the class was removed while holding the packet
    meter,           // dropped by a policer before the shaper (counted here)
    shutdown,        // still queued when the scheduler was emptied at shutdown
    count_
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::count_);

constexpr std::string_view drop_reason_name(DropReason r) {
    constexpr std::array<std::string_view, kDropReasonCount> kNames{
        "queue_limit", "codel", "pool_exhausted", "unknown_class",
        "not_a_leaf",  "class_removed", "meter", "shutdown"};
    return kNames[static_cast<size_t>(r)];
}

// Log-linear histogram of delays in ticks: four buckets per power of two
// above a floor of 2^floor_shift ticks (the caller's, the same for all
// classes), so percentiles are within 19% at any scale, with a fixed 100
// counters and no division to find a bucket. Only counters, cache-line
// aligned: recording a delay touches one line.
class alignas(64) DelayHistogram {
public:
    static constexpr uint32_t kBuckets = 100;

    void record(uint64_t ticks, int floor_shift) { ++counts_[bucket_of_ticks(ticks, floor_shift)]; }
    void add(uint32_t bucket, uint64_t n) { counts_[bucket] += n; }
    uint64_t* counter(uint32_t bucket) { return &counts_[bucket]; }

    uint64_t total() const {
        uint64_t n = 0;
        for (uint64_t c : counts_) n += c;
        return n;
    }

    // The upper edge, in ticks, of the bucket holding quantile q (0..1).
    uint64_t quantile_ticks(double q, int floor_shift) const;

    void clear() { counts_.fill(0); }
    uint64_t count(uint32_t bucket) const { return counts_[bucket]; }
    // What was recorded since `earlier`, a copy of this histogram taken
    // before; false (and nothing changed) if `earlier` is not that.
    bool subtract(const DelayHistogram& earlier) {
        for (uint32_t b = 0; b < kBuckets; ++b)
            if (earlier.counts_[b] > counts_[b]) return false;
        for (uint32_t b = 0; b < kBuckets; ++b) counts_[b] -= earlier.counts_[b];
        return true;
    }

    static uint32_t bucket_of_ticks(uint64_t ticks, int floor_shift) { return bucket_of(ticks >> floor_shift); }

private:
    static uint32_t bucket_of(uint64_t v) {
        if (v < 4) return static_cast<uint32_t>(v);
        const int msb = 63 - std::countl_zero(v);  // >= 2
        const uint32_t b = static_cast<uint32_t>(msb - 1) * 4 + static_cast<uint32_t>((v >> (msb - 2)) & 3);
        return b < kBuckets ? b : kBuckets - 1;
    }
    // Smallest v (in floor units) of the bucket after b.
    static uint64_t upper_of(uint32_t b) {
        if (b < 3) return b + 1;
        const uint32_t nb = b + 1;
        const uint32_t msb = nb / 4 + 1;
        return (uint64_t{4} | (nb & 3)) << (msb - 2);
    }

    std::array<uint64_t, kBuckets> counts_{};
};

// The histogram's front: narrow counters over a window of adjacent
// buckets, small enough to live in a class's hot state. A class that sends
// within its rate sees delays within an octave or two, and nearly all of
// them are counted here; the departures outside the window and counters
// that fill up go to the class's DelayWindow (see DelayRecorder::spill).
// A backlogged, borrowing class's delays spread over many octaves, more
// than the window holds, so a large share of them spill.
struct DelayTally {
    static constexpr uint32_t kBits = 6;
    static constexpr uint32_t kWidth = 64 / kBits;  // buckets: 10, two and a half octaves
    static constexpr uint32_t kFull = (1u << kBits) - 1;

    uint8_t base = 0;    // bucket of the first counter
    uint8_t misses = 0;  // departures outside the window since it last moved
    std::array<uint8_t, 8> packed{};  // kWidth counters of kBits, as a uint64_t

    // Counts a delay in `bucket`; false if the caller must spill it.
    bool add(uint32_t bucket) {
        const uint32_t i = bucket - base;  // wraps for buckets below the window
        if (i >= kWidth) return false;
        const uint64_t w = std::bit_cast<uint64_t>(packed);
        if (((w >> (kBits * i)) & kFull) == kFull) return false;
        packed = std::bit_cast<std::array<uint8_t, 8>>(w + (uint64_t{1} << (kBits * i)));
        return true;
    }
    uint32_t count(uint32_t i) const { return (std::bit_cast<uint64_t>(packed) >> (kBits * i)) & kFull; }
    void clear(uint32_t i) {
        packed = std::bit_cast<std::array<uint8_t, 8>>(std::bit_cast<uint64_t>(packed) & ~(uint64_t{kFull} << (kBits * i)));
    }
    bool empty() const { return std::bit_cast<uint64_t>(packed) == 0; }
    void add_to(DelayHistogram& h) const {
        for (uint32_t i = 0; i < kWidth; ++i)
            if (const uint32_t n = count(i)) h.add(base + i, n);
    }
};
static_assert(sizeof(DelayTally) == 10);

// The histogram's middle: one line per class, byte counters for its first
// 64 buckets (delays up to 2^16 floor units, about 16 ms at the
// scheduler's quarter-microsecond floor), where what the tally cannot take
// goes first. A backlogged class's delays span many octaves (sub-
// microsecond while it sends on its own rate, milliseconds while it waits
// to borrow), more than the tally's window, but mostly within these. With
// 100,000 classes this is 6.4 MB, which shares the last-level cache with
// the class states; the 83 MB of histograms behind it, which no cache
// holds, then see a departure only when a counter passes 255 or a delay is
// longer.
struct alignas(64) DelayWindow {
    static constexpr uint32_t kWidth = 64;
    static constexpr uint32_t kFull = 255;

    std::array<uint8_t, kWidth> counts{};

    void add_to(DelayHistogram& h) const {
        for (uint32_t i = 0; i < kWidth; ++i)
            if (counts[i]) h.add(i, counts[i]);
    }
};
static_assert(sizeof(DelayWindow) == 64);

struct ClassCounters {
    uint64_t packets = 0;     // departed
    uint64_t bytes = 0;       // departed, frame bytes
    uint64_t wire_bytes = 0;  // departed, as charged to the buckets
    std::array<uint64_t, kDropReasonCount> drops{};
    std::array<uint64_t, kDropReasonCount> drop_bytes{};
    uint64_t overlimits = 0;  // times the class hit its ceil
    uint64_t borrowed = 0;    // packets sent on an ancestor's tokens
};

// What the control thread reads for one class. For an inner class the
// departures (packets, bytes, wire_bytes), the drops and the backlog are
// those of its whole subtree, its own included (what it counted while it
// was a leaf, and what removed children left it); `borrowed`,
// `overlimits` and the delays are the class's own (leaves only).
struct ClassSnapshot {
    uint32_t id = 0;
    ClassCounters counters{};
    uint32_t backlog_packets = 0;
    uint64_t backlog_bytes = 0;
    uint64_t delay_p50_ns = 0;
    uint64_t delay_p99_ns = 0;
    uint64_t delay_samples = 0;
    // The whole histogram behind those figures, and how to read it, for a
    // reader that keeps earlier copies to see a recent window.
    DelayHistogram delays{};
    int delay_floor_shift = 0;
    double ns_per_tick = 0;
};

}  // namespace sluice::shaper
