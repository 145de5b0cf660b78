// One worker's reading for the rebalancer (rate_share.hpp): the leaves it
// owns below shared classes, read from its own scheduler and summed per
// (shared class, priority band) into a few cells, on its own core. The
// step then combines W workers' cells instead of reading every leaf, so
// its cost grows with classes x workers x bands, not with the leaves, and
// each worker pays for reading its own leaves only.
//
// Expects:  built by RateShare (which numbers the cells) on the control
//           side; afterwards touched by one thread only, the worker whose
//           leaves it reads (or, single-threaded, whoever steps).
// Output:   cells(): one DemandCell per (shared class, band) this worker
//           has leaves in, in the order their first leaf was added to the
//           RateShare, as of the last sum().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "shaper/scheduler.hpp"

namespace sluice::shaper {

// What a member's leaf had done when it was read: wire bytes.
struct LeafSample {
    uint64_t departed = 0;
    uint64_t backlog = 0;
};

// What a worker's leaves in one band below one shared class did. demand,
// assured and weight are over the leaves that wanted something at the last
// sum; departed only grows (a leaf whose counter went back adds nothing),
// so a reader that takes differences of it loses and doubles nothing,
// however late or often it reads.
struct DemandCell {
    double demand = 0;      // bytes/s: what arrived as a rate, plus backlog to drain
    double assured = 0;     // bytes/s: those leaves' own rates
    double weight = 0;      // those leaves' weights
    uint64_t departed = 0;  // wire bytes, all the cell's leaves, since the sampler began
    uint64_t backlog = 0;   // wire bytes queued now, all the cell's leaves
};
inline constexpr size_t kDemandCellWords = sizeof(DemandCell) / sizeof(uint64_t);
static_assert(sizeof(DemandCell) == 5 * sizeof(uint64_t));

// A member leaf as its worker's sampler sees it: the cell it counts in, and
// its configured rate, ceil (0: none) and weight.
struct SampledLeaf {
    uint32_t leaf_id = 0;
    uint32_t cell = 0;
    uint64_t rate = 0;
    uint64_t ceil = 0;
    uint32_t weight = 1;
};

class alignas(64) ShareSampler {
public:
    ShareSampler() = default;
    // `drain_us`: a backlog counts as the demand to send it within this time.
    ShareSampler(std::vector<SampledLeaf> leaves, uint32_t cells, uint64_t tick_hz, uint32_t drain_us);

    std::span<const uint32_t> leaf_ids() const { return ids_; }
    // The samples the next sum() reads, one per leaf in leaf_ids() order:
    // read() fills them from a scheduler, or the caller writes them.
    std::span<LeafSample> samples() { return samples_; }
    void read(const Scheduler& s);

    // Sums the samples into the cells; rates are over the time since the
    // last sum (the first sum only sets each leaf's baseline).
    void sum(uint64_t now);
    // read(s) and sum(now) in one pass (what a worker does every period).
    void sum(const Scheduler& s, uint64_t now);
    std::span<const DemandCell> cells() const { return cells_; }

private:
    // Clears the cells and returns 1 / the seconds since the last sum.
    double begin_sum(uint64_t now);
    void add(size_t i, const LeafSample& s, double per_elapsed);

    std::vector<uint32_t> ids_;
    std::vector<SampledLeaf> leaves_;
    std::vector<LeafSample> samples_;
    std::vector<LeafSample> last_;
    std::vector<DemandCell> cells_;
    double per_tick_ = 1e-9;   // seconds per tick
    double per_drain_ = 2000;  // 1 / drain time in seconds
    uint64_t last_sum_ = 0;
    bool summed_ = false;
};

}  // namespace sluice::shaper
