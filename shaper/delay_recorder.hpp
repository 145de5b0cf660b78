// Where the scheduler records each departure's queueing delay, per class
// slot, in three tiers so that the packet path touches little memory: the
// class's DelayTally (in its hot state, owned by the scheduler), then its
// DelayWindow (64 bytes), then its DelayHistogram (800 bytes). What spills
// from a tier during a dequeue burst is batched and added at the burst's
// end, its cache lines prefetched meanwhile. In a tree small enough for the
// histograms to stay in cache, departures go straight to the histogram.
//
// Owned by the scheduler, on its worker: no locks, no allocation on the
// packet path (a slot's histogram is allocated when the slot is).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "shaper/class_stats.hpp"
#include "shaper/huge_array.hpp"

namespace sluice::shaper {

class DelayRecorder {
public:
    // ---- control path ----

    // A new slot x (slots are dense: x is the count of slots before it).
    void add_slot(uint32_t x) {
        windows_.emplace_back();
        direct_ = x + 1 <= kDirectClasses;
        // Its histogram now, not when it first needs it: the packet path
        // never allocates.
        if (x / kPerChunk == chunks_.size()) chunks_.emplace_back(kPerChunk);
    }
    // Slot x is free again: what it recorded goes.
    void clear_slot(uint32_t x) {
        histogram(x).clear();
        windows_[x] = {};
    }
    // Everything slot x recorded, `tally` (its class's) included.
    DelayHistogram total(uint32_t x, const DelayTally& tally) const {
        DelayHistogram h = histogram(x);
        windows_[x].add_to(h);
        tally.add_to(h);
        return h;
    }

    // ---- packet path ----

    // Whether departures go straight to the histogram (see the top).
    bool direct() const { return direct_; }
    uint64_t* direct_counter(uint32_t x, uint32_t bucket) { return histogram(x).counter(bucket); }

    // Records a departure in `bucket` of slot x whose class's tally had no
    // room for it. Out of line, as it is the rare case.
    void spill(uint32_t x, DelayTally& tally, uint32_t bucket);
    // Adds what this burst spilled; call at the end of each dequeue burst.
    void flush() {
        if (spill_count_ | window_spill_count_) flush_spills();
    }

private:
    void to_window(uint32_t x, uint32_t bucket, uint32_t n) {
        if (bucket >= DelayWindow::kWidth) return to_histogram(x, bucket, n);
        __builtin_prefetch(&windows_[x], 1);
        window_spills_[window_spill_count_++] = {x, bucket, n};
        if (window_spill_count_ == kMaxSpills) flush_spills();
    }
    void to_histogram(uint32_t x, uint32_t bucket, uint32_t n) {
        uint64_t* counter = histogram(x).counter(bucket);
        __builtin_prefetch(counter, 1);
        if (spill_count_ == kMaxSpills) flush_histograms();
        spills_[spill_count_++] = {counter, n};
    }
    void add_to_window(uint32_t x, uint32_t bucket, uint32_t n);
    void flush_spills();
    void flush_histograms() {
        for (uint32_t i = 0; i < spill_count_; ++i) *spills_[i].counter += spills_[i].n;
        spill_count_ = 0;
    }

    DelayHistogram& histogram(uint32_t x) { return chunks_[x / kPerChunk][x % kPerChunk]; }
    const DelayHistogram& histogram(uint32_t x) const { return chunks_[x / kPerChunk][x % kPerChunk]; }

    // While all histograms fit in a small part of the cache (a few thousand
    // classes), the tiers would only add work.
    static constexpr uint32_t kDirectClasses = 4'096;
    bool direct_ = true;

    HugeVector<DelayWindow> windows_;  // by slot
    // Histograms by slot, in chunks allocated with the first slot of each
    // (so that adding classes never moves the others'), 800 bytes a class:
    // 83 MB for 100,000. Allocated up front, not when a class first spills:
    // a chunk allocated on the packet path cost milliseconds of page faults
    // in the middle of traffic.
    static constexpr uint32_t kPerChunk = 4'096;  // 3.4 MB: huge pages
    std::vector<HugeVector<DelayHistogram>> chunks_;

    // Spills of the current dequeue burst; empty between bursts.
    struct HistogramSpill {
        uint64_t* counter;  // in histogram(the slot)
        uint64_t n;
    };
    struct WindowSpill {
        uint32_t x;
        uint32_t bucket;
        uint32_t n;
    };
    static constexpr uint32_t kMaxSpills = 64;
    std::array<HistogramSpill, kMaxSpills> spills_{};
    uint32_t spill_count_ = 0;
    std::array<WindowSpill, kMaxSpills> window_spills_{};  // applied first
    uint32_t window_spill_count_ = 0;
};

}  // namespace sluice::shaper
