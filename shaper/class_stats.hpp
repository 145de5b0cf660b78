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
    count_
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::count_);

constexpr std::string_view drop_reason_name(DropReason r) {
    constexpr std::array<std::string_view, kDropReasonCount> kNames{
        "queue_limit", "codel", "pool_exhausted", "unknown_class",
        "not_a_leaf",  "class_removed", "meter"};
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

    // Returns the bucket, as a hint for prefetching the next record.
    uint32_t record(uint64_t ticks, int floor_shift) {
        const uint32_t b = bucket_of(ticks >> floor_shift);
        ++counts_[b];
        return b;
    }
    const void* bucket_address(uint32_t b) const { return &counts_[b]; }

    uint64_t total() const {
        uint64_t n = 0;
        for (uint64_t c : counts_) n += c;
        return n;
    }

    // The upper edge, in ticks, of the bucket holding quantile q (0..1).
    uint64_t quantile_ticks(double q, int floor_shift) const;

    void clear() { counts_.fill(0); }

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

struct ClassCounters {
    uint64_t packets = 0;     // departed
    uint64_t bytes = 0;       // departed, frame bytes
    uint64_t wire_bytes = 0;  // departed, as charged to the buckets
    std::array<uint64_t, kDropReasonCount> drops{};
    std::array<uint64_t, kDropReasonCount> drop_bytes{};
    uint64_t overlimits = 0;  // times the class hit its ceil
    uint64_t borrowed = 0;    // packets sent on an ancestor's tokens
};

// What the control thread reads for one class.
struct ClassSnapshot {
    uint32_t id = 0;
    ClassCounters counters{};
    uint32_t backlog_packets = 0;
    uint64_t backlog_bytes = 0;
    uint64_t delay_p50_ns = 0;
    uint64_t delay_p99_ns = 0;
    uint64_t delay_samples = 0;
};

}  // namespace sluice::shaper
