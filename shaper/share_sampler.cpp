#include "shaper/share_sampler.hpp"

#include <algorithm>

namespace sluice::shaper {

ShareSampler::ShareSampler(std::vector<SampledLeaf> leaves, uint32_t cells, uint64_t tick_hz, uint32_t drain_us)
    : leaves_(std::move(leaves)),
      samples_(leaves_.size()),
      last_(leaves_.size()),
      cells_(cells),
      per_tick_(1.0 / static_cast<double>(std::max<uint64_t>(tick_hz, 1))),
      per_drain_(1.0 / (std::max<uint32_t>(drain_us, 1) * 1e-6)) {
    ids_.reserve(leaves_.size());
    for (const SampledLeaf& l : leaves_) ids_.push_back(l.leaf_id);
}

namespace {

LeafSample load_of(const Scheduler& s, uint32_t id) {
    const auto load = s.leaf_load(id);
    return load ? LeafSample{load->departed_wire_bytes, load->backlog_wire_bytes} : LeafSample{};
}

// How far ahead a reading loads leaves: enough to cover a miss to memory
// at a few nanoseconds of arithmetic per leaf.
constexpr size_t kAhead = 8;

}  // namespace

void ShareSampler::read(const Scheduler& s) {
    for (size_t i = 0; i < ids_.size(); ++i) {
        if (i + kAhead < ids_.size()) s.prefetch_leaf(ids_[i + kAhead]);
        samples_[i] = load_of(s, ids_[i]);
    }
}

double ShareSampler::begin_sum(uint64_t now) {
    const double elapsed_s = static_cast<double>(summed_ && now > last_sum_ ? now - last_sum_ : 1) * per_tick_;
    for (DemandCell& c : cells_) {
        c.demand = c.assured = c.weight = 0;
        c.backlog = 0;
    }
    // Multiplied, not divided, per leaf: a division costs as much as the
    // rest of a leaf's arithmetic.
    return 1.0 / elapsed_s;
}

inline void ShareSampler::add(size_t i, const LeafSample& s, double per_elapsed) {
    LeafSample& last = last_[i];
    // A leaf that was and is idle adds nothing.
    if (s.backlog == 0 && last.backlog == 0 && s.departed == last.departed && summed_) return;
    const SampledLeaf& l = leaves_[i];
    DemandCell& c = cells_[l.cell];
    c.backlog += s.backlog;
    // What arrived: what left plus what the queue grew by. A counter that
    // went back (the leaf was removed and added again) starts over.
    double arrived = 0;
    if (summed_ && s.departed >= last.departed) {
        const uint64_t sent = s.departed - last.departed;
        c.departed += sent;
        arrived =
            std::max(static_cast<double>(sent) + static_cast<double>(s.backlog) - static_cast<double>(last.backlog), 0.0);
    }
    last = s;
    double d = arrived * per_elapsed + static_cast<double>(s.backlog) * per_drain_;
    // A queue never makes a leaf want more than its ceil.
    if (l.ceil) d = std::min(d, static_cast<double>(l.ceil));
    if (d <= 0) return;
    c.demand += d;
    c.assured += static_cast<double>(l.rate);
    c.weight += l.weight;
}

void ShareSampler::sum(uint64_t now) {
    const double per_elapsed = begin_sum(now);
    for (size_t i = 0; i < leaves_.size(); ++i) add(i, samples_[i], per_elapsed);
    last_sum_ = now;
    summed_ = true;
}

void ShareSampler::sum(const Scheduler& s, uint64_t now) {
    const double per_elapsed = begin_sum(now);
    for (size_t i = 0; i < ids_.size(); ++i) {
        if (i + kAhead < ids_.size()) s.prefetch_leaf(ids_[i + kAhead]);
        add(i, load_of(s, ids_[i]), per_elapsed);
    }
    last_sum_ = now;
    summed_ = true;
}

}  // namespace sluice::shaper
