#include "dataplane/pipeline/share_link.hpp"

#include <rte_cycles.h>

#include <algorithm>

namespace sluice::dataplane {

ShareLink::ShareLink(std::unique_ptr<shaper::RateShare> share, uint64_t period)
    : share_(std::move(share)), workers_(share_->workers()), period_(std::max<uint64_t>(period, 1)) {
    class_ids_ = share_->class_ids();
    for (size_t k = 0; k < class_ids_.size(); ++k) {
        if (class_ids_[k] >= index_of_.size()) index_of_.resize(size_t{class_ids_[k]} + 1, -1);
        index_of_[class_ids_[k]] = static_cast<int32_t>(k);
    }
    slots_ = std::make_unique<Slot[]>(workers_);
    boxes_ = std::make_unique<Mailbox[]>(workers_);
    for (unsigned w = 0; w < workers_; ++w) {
        const auto leaves = share_->members_of(w);
        slots_[w].leaves.assign(leaves.begin(), leaves.end());
        slots_[w].values = std::make_unique<std::atomic<uint64_t>[]>(2 * leaves.size());
        for (size_t i = 0; i < 2 * leaves.size(); ++i) slots_[w].values[i].store(0, std::memory_order_relaxed);
        // Everything a step can give one worker fits in one batch: a
        // class's copy at most once.
        Mailbox& b = boxes_[w];
        b.batch.resize(class_ids_.size());
        b.pending.resize(class_ids_.size());
        b.dirty.assign(class_ids_.size(), 0);
        b.dirty_list.reserve(class_ids_.size());
    }
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
    slot.next = now + period_;
    if (w == 0) applied += step(s, now);
    else publish(w, s);
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

void ShareLink::publish(unsigned w, const shaper::Scheduler& s) {
    Slot& slot = slots_[w];
    const uint32_t seq = slot.seq.load(std::memory_order_relaxed);
    slot.seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (size_t i = 0; i < slot.leaves.size(); ++i) {
        const auto load = s.leaf_load(slot.leaves[i]);
        slot.values[2 * i].store(load ? load->departed_wire_bytes : 0, std::memory_order_relaxed);
        slot.values[2 * i + 1].store(load ? load->backlog_wire_bytes : 0, std::memory_order_relaxed);
    }
    slot.seq.store(seq + 2, std::memory_order_release);
}

uint32_t ShareLink::step(shaper::Scheduler& s, uint64_t now) {
    const uint64_t t0 = rte_rdtsc();
    share_->read(0, s);
    for (unsigned w = 1; w < workers_; ++w) {
        const Slot& slot = slots_[w];
        const uint32_t before = slot.seq.load(std::memory_order_acquire);
        if (before & 1) continue;  // being written: last period's copy stays
        // Each member's pair is kept only if the slot was not rewritten
        // while it was read. A slot rewritten halfway leaves the members
        // read so far with this period's counts and the rest with last
        // period's: both are true cumulative counts, so the next step
        // evens them out.
        const std::span<shaper::LeafSample> into = share_->samples_of(w);
        for (size_t i = 0; i < into.size() && i < slot.leaves.size(); ++i) {
            const uint64_t departed = slot.values[2 * i].load(std::memory_order_relaxed);
            const uint64_t backlog = slot.values[2 * i + 1].load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (slot.seq.load(std::memory_order_relaxed) != before) break;
            into[i] = {departed, backlog};
        }
    }
    if (resend_.exchange(false, std::memory_order_relaxed)) share_->resend_all();
    uint32_t applied = 0;
    for (const shaper::LocalChange& c : share_->step(now)) {
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
    steps_.store(steps_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    step_cycles_.store(step_cycles_.load(std::memory_order_relaxed) + (rte_rdtsc() - t0), std::memory_order_relaxed);
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
