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
// O(1) (amortised) and advancing costs O(levels + armings met), whatever the
// number of classes and however far the (possibly virtual) clock jumps.
//
// A slot is an array of armings, not a list of timers: arming appends to
// the slot's array and cancelling only bumps the timer's stamp, so neither
// touches another timer's memory (with 100,000 classes that memory is
// cold, and a linked list's neighbours would cost two cache misses per
// arming and cancelling). Stale armings are skipped when their slot is
// reached.
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
    // granule_shift: log2 of the ticks per level-0 slot.
    explicit TimerWheel(int granule_shift = 10) : shift_(granule_shift) {}

    // Makes room for timer ids 0..n-1 (control path).
    void resize(uint32_t n) { stamps_.resize(n); }

    bool scheduled(uint32_t id) const { return stamps_[id] & 1; }
    // Starts loading what schedule(id) or cancel(id) will write.
    void prefetch(uint32_t id) const { __builtin_prefetch(&stamps_[id]); }

    // Arms timer `id` to fire at or after tick `expiry` (and not at any
    // earlier due time it had).
    void schedule(uint32_t id, uint64_t expiry) {
        stamps_[id] = (stamps_[id] | 1) + 2;  // odd: armed, and a new stamp
        place({expiry, id, stamps_[id]});
        if (entries_ > compact_at_) [[unlikely]] compact();
    }

    // Disarms `id`. Its entry stays in its slot, stale, until that slot is
    // reached (or the wheel is compacted): nothing but the stamp is touched.
    void cancel(uint32_t id) { stamps_[id] += stamps_[id] & 1; }

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

    // Armings held in the slots, live or stale (for tests and stats).
    size_t armings() const { return entries_; }

    // A lower bound on the tick of the next timer, if any slot holds one
    // (a cancelled timer's slot counts until it is reached).
    std::optional<uint64_t> next_bound() const;

private:
    static constexpr int kLevels = 6;

    // An arming: which timer, its due tick, and the stamp it was armed
    // with; it is live while the timer's stamp still equals it.
    struct Entry {
        uint64_t expiry;
        uint32_t id;
        uint32_t stamp;
    };
    bool live(const Entry& e) const { return stamps_[e.id] == e.stamp; }

    uint64_t granule_of(uint64_t tick) const {
        const uint64_t g = (tick >> shift_) + ((tick & ((uint64_t{1} << shift_) - 1)) != 0);
        return g < now_g_ ? now_g_ : g;
    }

    void place(const Entry& e);
    void collect_due(uint64_t now);
    // Empties a slot into taken_ (whose old storage the slot keeps).
    void detach(uint32_t bucket);
    void compact();

    int shift_;
    uint64_t now_g_ = 0;
    std::array<uint64_t, kLevels> occ_{};
    std::array<std::vector<Entry>, kLevels * 64> slots_;
    // Per timer: the number of times it was armed and disarmed, so odd
    // while armed. 4 bytes a timer (400 KB for 100,000 classes) stays in
    // L2, where a linked list's nodes (and their neighbours, touched on
    // every insert and removal) would not.
    HugeVector<uint32_t> stamps_;
    // Entries in the slots, live or stale. Stale ones cost memory and a
    // look when their slot is reached; should they pile up (timers armed
    // and cancelled much faster than their slots come round), they are
    // swept out all at once.
    size_t entries_ = 0;
    static constexpr size_t kMinCompactAt = 16'384;
    size_t compact_at_ = kMinCompactAt;
    std::vector<Entry> taken_;   // reused: no allocation once warm
    std::vector<Entry> parked_;  // far-future timers met on the way
    std::vector<uint32_t> due_;
};

}  // namespace sluice::shaper
