// Timer wheel: where classes that wait for tokens sleep.
//
// A class whose bucket is empty knows when it may send again; it is put on
// this wheel and forgotten until then, so waiting classes cost nothing per
// packet. The wheel is hierarchical: six levels of 64 slots, a slot at level
// k spanning 64^k granules. A timer sits at the level of the highest base-64
// digit in which its due granule differs from the current one; when time
// reaches a higher-level slot, that slot's timers are spread into the
// levels below. One 64-bit occupancy mask per level lets time jump over
// empty stretches with a count-trailing-zeros, so schedule and cancel are
// O(1) and advancing costs O(levels + timers due), whatever the number of
// classes and however far the (possibly virtual) clock jumps.
//
// Timers never fire early: due times are rounded up to a granule, and the
// far future beyond the wheel's span is re-checked when reached.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "shaper/huge_array.hpp"

namespace sluice::shaper {

class TimerWheel {
public:
    static constexpr uint32_t kNone = 0xffffffffu;

    // granule_shift: log2 of the ticks per level-0 slot.
    explicit TimerWheel(int granule_shift = 10) : shift_(granule_shift) { heads_.fill(kNone); }

    // Makes room for timer ids 0..n-1 (control path).
    void resize(uint32_t n) { nodes_.resize(n); }

    bool scheduled(uint32_t id) const { return nodes_[id].bucket != kUnscheduled; }
    // Starts loading what schedule(id) or cancel(id) will write first.
    void prefetch(uint32_t id) const { __builtin_prefetch(&nodes_[id]); }
    uint64_t expiry(uint32_t id) const { return nodes_[id].expiry; }

    // Arms timer `id` (not armed) to fire at or after tick `expiry`.
    void schedule(uint32_t id, uint64_t expiry) {
        nodes_[id].expiry = expiry;
        place(id);
    }

    void cancel(uint32_t id) {
        Node& n = nodes_[id];
        if (n.bucket == kUnscheduled) return;
        if (n.prev == kNone) {
            heads_[n.bucket] = n.next;
            if (n.next == kNone) occ_[n.bucket >> 6] &= ~(uint64_t{1} << (n.bucket & 63));
        } else {
            nodes_[n.prev].next = n.next;
        }
        if (n.next != kNone) nodes_[n.next].prev = n.prev;
        n.bucket = kUnscheduled;
    }

    // Moves the clock to `now` and calls fire(id) for every timer now due,
    // after the wheel is consistent again (fire may schedule timers).
    // A timer that fire() re-arms before its own turn (a callback may arm
    // others) is not fired now: it has a new due time.
    template <typename Fire>
    void advance(uint64_t now, Fire&& fire) {
        advance(now, [](std::span<const uint32_t>) {}, fire);
    }
    // The same, first showing ready() all the timers due, so that the
    // owner can prefetch what fire() will touch for each of them.
    template <typename Ready, typename Fire>
    void advance(uint64_t now, Ready&& ready, Fire&& fire) {
        due_.clear();
        collect_due(now);
        if (due_.empty()) return;
        ready(std::span<const uint32_t>(due_));
        for (const uint32_t id : due_)
            if (!scheduled(id)) fire(id);
    }

    // A lower bound on the tick of the next timer, if any is armed.
    std::optional<uint64_t> next_bound() const;

    bool empty() const {
        for (uint64_t m : occ_)
            if (m) return false;
        return true;
    }

private:
    static constexpr int kLevels = 6;
    static constexpr uint16_t kUnscheduled = 0xffff;

    struct Node {
        uint32_t prev = kNone;
        uint32_t next = kNone;
        uint64_t expiry = 0;
        uint16_t bucket = kUnscheduled;  // level * 64 + slot
    };

    uint64_t granule_of(uint64_t tick) const {
        const uint64_t g = (tick >> shift_) + ((tick & ((uint64_t{1} << shift_) - 1)) != 0);
        return g < now_g_ ? now_g_ : g;
    }

    void place(uint32_t id);
    void collect_due(uint64_t now);
    uint32_t detach(uint32_t bucket);

    int shift_;
    uint64_t now_g_ = 0;
    std::array<uint64_t, kLevels> occ_{};
    std::array<uint32_t, kLevels * 64> heads_{};
    HugeVector<Node> nodes_;  // one per class: huge pages spare TLB misses
    std::vector<uint32_t> due_;  // reused: no allocation once warm
};

}  // namespace sluice::shaper
