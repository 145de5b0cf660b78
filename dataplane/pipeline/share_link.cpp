#include "dataplane/pipeline/share_link.hpp"

#include <rte_cycles.h>

#include <algorithm>
#include <bit>

namespace sluice::dataplane {

namespace {

// A cost smoothed over about 16 readings. A reading the kernel interrupted
// (the worker lost its CPU for a while) counts as twice the cost so far,
// not as its wall time; the first counts as at most `first` (the budget of
// the period asked for), or one interrupted first reading would stretch
// the period for as long as the cost takes to decay. A reading that truly
// costs more gets there in a few dozen periods.
uint64_t smoothed(uint64_t cost, uint64_t took, uint64_t first) {
    if (cost == 0) return std::max<uint64_t>(std::min(took, first), 1);
    const uint64_t sample = std::min(took, 2 * cost);
    return cost - cost / 16 + sample / 16;
}

void store_cell(std::atomic<uint64_t>* to, const shaper::DemandCell& c) {
    to[0].store(std::bit_cast<uint64_t>(c.demand), std::memory_order_relaxed);
    to[1].store(std::bit_cast<uint64_t>(c.assured), std::memory_order_relaxed);
    to[2].store(std::bit_cast<uint64_t>(c.weight), std::memory_order_relaxed);
    to[3].store(c.departed, std::memory_order_relaxed);
    to[4].store(c.backlog, std::memory_order_relaxed);
}

shaper::DemandCell load_cell(const uint64_t* from) {
    return {std::bit_cast<double>(from[0]), std::bit_cast<double>(from[1]), std::bit_cast<double>(from[2]), from[3],
            from[4]};
}

}  // namespace

ShareLink::ShareLink(std::unique_ptr<shaper::RateShare> share, uint64_t period)
    : share_(std::move(share)), workers_(share_->workers()), period_(std::max<uint64_t>(period, 1)) {
    interval_.store(period_, std::memory_order_relaxed);
    class_ids_ = share_->class_ids();
    for (size_t k = 0; k < class_ids_.size(); ++k) {
        if (class_ids_[k] >= index_of_.size()) index_of_.resize(size_t{class_ids_[k]} + 1, -1);
        index_of_[class_ids_[k]] = static_cast<int32_t>(k);
    }
    share_->prepare();  // the samplers exist before any worker reads with one
    slots_ = std::make_unique<Slot[]>(workers_);
    boxes_ = std::make_unique<Mailbox[]>(workers_);
    size_t largest = 0;
    for (unsigned w = 0; w < workers_; ++w) {
        Slot& slot = slots_[w];
        slot.size = share_->cells_of(w).size() * shaper::kDemandCellWords;
        largest = std::max(largest, slot.size);
        slot.words = std::make_unique<std::atomic<uint64_t>[]>(slot.size);
        for (size_t i = 0; i < slot.size; ++i) slot.words[i].store(0, std::memory_order_relaxed);
        // Everything a step can give one worker fits in one batch: a
        // class's copy at most once.
        Mailbox& b = boxes_[w];
        b.batch.resize(class_ids_.size());
        b.pending.resize(class_ids_.size());
        b.dirty.assign(class_ids_.size(), 0);
        b.dirty_list.reserve(class_ids_.size());
    }
    scratch_.resize(largest);
}

void ShareLink::adopted(unsigned w) {
    if (w == 0) resend_.store(true, std::memory_order_relaxed);
}

uint64_t ShareLink::refused() const {
    uint64_t n = 0;
    for (unsigned w = 0; w < workers_; ++w) n += boxes_[w].refused.load(std::memory_order_relaxed);
    return n;
}

uint32_t ShareLink::turn(unsigned w, shaper::Scheduler& s, uint64_t now) {
    if (w >= workers_) return 0;
    uint32_t applied = w == 0 ? 0 : take(w, s, now);
    Slot& slot = slots_[w];
    if (now < slot.next) return applied;
    slot.next = now + interval_.load(std::memory_order_relaxed);
    if (w == 0) applied += step(s, now);
    else publish(w, s, now);
    return applied;
}

uint32_t ShareLink::take(unsigned w, shaper::Scheduler& s, uint64_t now) {
    Mailbox& b = boxes_[w];
    const uint64_t posted = b.posted.load(std::memory_order_acquire);
    if (posted == b.taken.load(std::memory_order_relaxed)) return 0;
    uint64_t refused = 0;
    for (uint32_t i = 0; i < b.count; ++i) refused += !s.apply(b.batch[i], now).ok();
    if (refused) b.refused.store(b.refused.load(std::memory_order_relaxed) + refused, std::memory_order_relaxed);
    const uint32_t n = b.count;
    b.taken.store(posted, std::memory_order_release);
    return n;
}

void ShareLink::publish(unsigned w, const shaper::Scheduler& s, uint64_t now) {
    const uint64_t t0 = rte_rdtsc();
    shaper::ShareSampler& sampler = share_->sampler(w);
    sampler.sum(s, now);
    Slot& slot = slots_[w];
    const uint32_t seq = slot.seq.load(std::memory_order_relaxed);
    slot.seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    const auto cells = sampler.cells();
    for (size_t i = 0; i < cells.size(); ++i) store_cell(&slot.words[i * shaper::kDemandCellWords], cells[i]);
    slot.seq.store(seq + 2, std::memory_order_release);
    slot.cost.store(smoothed(slot.cost.load(std::memory_order_relaxed), rte_rdtsc() - t0, period_ / kStepShare),
                    std::memory_order_relaxed);
}

bool ShareLink::receive(unsigned w) {
    const Slot& slot = slots_[w];
    for (int attempt = 0; attempt < 2; ++attempt) {
        const uint32_t before = slot.seq.load(std::memory_order_acquire);
        if (before & 1) continue;  // being written
        for (size_t i = 0; i < slot.size; ++i) scratch_[i] = slot.words[i].load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (slot.seq.load(std::memory_order_relaxed) != before) continue;
        const std::span<shaper::DemandCell> into = share_->cells_of(w);
        for (size_t c = 0; c < into.size(); ++c) into[c] = load_cell(&scratch_[c * shaper::kDemandCellWords]);
        return true;
    }
    return false;  // last period's sums stay: their departed bytes are cumulative
}

uint32_t ShareLink::step(shaper::Scheduler& s, uint64_t now) {
    const uint64_t t0 = rte_rdtsc();
    share_->sampler(0).sum(s, now);
    share_->take_sums(0);
    for (unsigned w = 1; w < workers_; ++w) (void)receive(w);
    if (resend_.exchange(false, std::memory_order_relaxed)) share_->resend_all();
    uint32_t applied = 0;
    for (const shaper::LocalChange& c : share_->step_summed(now)) {
        if (c.worker == 0) {
            if (s.apply(c.change, now).ok()) ++applied;
            else boxes_[0].refused.store(boxes_[0].refused.load(std::memory_order_relaxed) + 1,
                                         std::memory_order_relaxed);
            continue;
        }
        Mailbox& b = boxes_[c.worker];
        const int32_t k = c.change.id < index_of_.size() ? index_of_[c.change.id] : -1;
        if (k < 0) continue;
        shaper::ModifyClass& p = b.pending[static_cast<size_t>(k)];
        if (!b.dirty[static_cast<size_t>(k)]) {
            b.dirty[static_cast<size_t>(k)] = 1;
            b.dirty_list.push_back(static_cast<uint32_t>(k));
            p = c.change;
        } else {
            if (c.change.rate) p.rate = c.change.rate;
            if (c.change.ceil) p.ceil = c.change.ceil;
        }
    }
    for (unsigned w = 1; w < workers_; ++w) post(w);
    const uint64_t took = rte_rdtsc() - t0;
    steps_.store(steps_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    step_cycles_.store(step_cycles_.load(std::memory_order_relaxed) + took, std::memory_order_relaxed);
    // No worker spends more than 1/kStepShare of its time on the
    // rebalancer: a tree too large for the period stretches the period
    // (seen in `status`) rather than the packets' wait.
    cost_ = smoothed(cost_, took, period_ / kStepShare);
    uint64_t dearest = cost_;
    for (unsigned w = 1; w < workers_; ++w) dearest = std::max(dearest, slots_[w].cost.load(std::memory_order_relaxed));
    interval_.store(std::max(period_, kStepShare * dearest), std::memory_order_relaxed);
    active_.store(!share_->idle(), std::memory_order_relaxed);
    return applied;
}

void ShareLink::post(unsigned w) {
    Mailbox& b = boxes_[w];
    if (b.dirty_list.empty()) return;
    const uint64_t posted = b.posted.load(std::memory_order_relaxed);
    // Worker w has not taken the last batch yet: keep merging.
    if (b.taken.load(std::memory_order_acquire) != posted) return;
    b.count = 0;
    for (const uint32_t k : b.dirty_list) {
        b.batch[b.count++] = b.pending[k];
        b.dirty[k] = 0;
    }
    b.dirty_list.clear();
    b.posted.store(posted + 1, std::memory_order_release);
}

}  // namespace sluice::dataplane
