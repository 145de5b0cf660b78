// Recent queueing delays: a leaf's delay histogram counts from its start,
// so p50/p99 over "the last 10-15 s" come from keeping a copy of it every
// kSampleSeconds and subtracting the oldest copy kept from the live one.
// One per direction, owned by the runtime and called from the control side.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "control/policy/policy.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::runtime {

class DelayWindows {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr int kSampleSeconds = 5;
    // Leaves whose recent delays are followed (3 histograms of 800 bytes
    // each); busier trees get lifetime figures beyond that.
    static constexpr size_t kMaxLeaves = 16384;

    // Keeps a copy of the histogram of each leaf of `tree` (scheduler id
    // ids[class number]); removed classes are forgotten, and a reused id
    // whose histogram went back starts over.
    void sample(const shaper::Scheduler& scheduler, const policy::ClassTree& tree, const std::vector<uint32_t>& ids,
                Clock::time_point now);

    struct Recent {
        double window_s = 0;   // how far back the window reaches
        uint64_t samples = 0;  // packets that departed in it
        double p50_us = 0, p99_us = 0;
    };
    // What departed since the oldest copy kept of scheduler id `id`.
    Recent recent(uint32_t id, const shaper::ClassSnapshot& now_snapshot, Clock::time_point now) const;

private:
    struct Samples {
        std::array<shaper::DelayHistogram, 3> at{};  // oldest first
        std::array<Clock::time_point, 3> when{};
        size_t count = 0;
    };
    std::unordered_map<uint32_t, Samples> by_id_;
};

}  // namespace sluice::runtime
