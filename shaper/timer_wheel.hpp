// Timer wheel: where classes that wait for tokens sleep.
//
// A class whose bucket is empty knows when it may send again; it is put on
// this wheel and forgotten until then, so waiting classes cost nothing per
// packet. The wheel is hierarchical: five levels of 256 slots, a slot at
// level k spanning 256^k granules. A timer sits at the level of the highest
// base-256 digit in which its due granule differs from the current one;
// when time reaches a higher-level slot, that slot's timers are spread into
// the levels below. A 256-bit occupancy mask per level (four words) lets
// time jump over empty stretches with count-trailing-zeros, so schedule and
// cancel are O(1) and advancing costs O(levels + timers due), whatever the
// number of classes and however far the (possibly virtual) clock jumps.
//
// Why 256 slots and not 64: the scheduler's granule is about a
// microsecond, and a waiting class typically needs tens to hundreds of
// microseconds for a packet's worth of tokens (a thousand classes sharing
// a few Gbit/s). 256 level-0 slots cover those directly; with 64, most
// timers were first placed a level up and placed again when time reached
// them, which cost the 1,000-class backlogged benchmark about 4%.
//
// A slot is an array of (due tick, timer) entries, not a linked list:
// arming appends to the slot's array, and cancelling moves the slot's last
// entry into the cancelled one's place, so both touch the slot's end (in
// cache: it was written last) and a per-timer position (8 bytes a timer),
// never another timer's node. With 100,000 classes a linked list's
// neighbours were two cold cache lines per arming and cancelling.
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
    void resize(uint32_t n) { where_.resize(n); }

    bool scheduled(uint32_t id) const { return where_[id].bucket != kUnscheduled; }
    // Starts loading what schedule(id) or cancel(id) will write.
    void prefetch(uint32_t id) const { __builtin_prefetch(&where_[id]); }

    // Arms timer `id` to fire at or after tick `expiry` (and not at any
    // earlier due time it had).
    void schedule(uint32_t id, uint64_t expiry) {
        cancel(id);
        place({expiry, id});
    }

    void cancel(uint32_t id) {
        const Where w = where_[id];
        if (w.bucket == kUnscheduled) return;
        std::vector<Entry>& v = slots_[w.bucket];
        const Entry last = v.back();
        v[w.index] = last;
        where_[last.id].index = w.index;
        v.pop_back();
        if (v.empty()) clear_occupied(w.bucket);
        where_[id].bucket = kUnscheduled;
        --entries_;
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

    // Timers armed (for tests and stats).
    size_t armed() const { return entries_; }

    // A lower bound on the tick of the next timer, if any is armed.
    std::optional<uint64_t> next_bound() const;

private:
    static constexpr int kLevels = 5;
    static constexpr int kDigitBits = 8;
    static constexpr uint32_t kSlots = 1u << kDigitBits;  // per level
    static constexpr uint32_t kWords = kSlots / 64;        // of occupancy
    using Occupancy = std::array<uint64_t, kWords>;

    static constexpr uint32_t kUnscheduled = 0xffffffffu;

    struct Entry {
        uint64_t expiry;
        uint32_t id;
    };
    // Where a timer's entry is: slot (level * kSlots + slot) and index.
    struct Where {
        uint32_t bucket = kUnscheduled;
        uint32_t index = 0;
    };

    uint64_t granule_of(uint64_t tick) const {
        const uint64_t g = (tick >> shift_) + ((tick & ((uint64_t{1} << shift_) - 1)) != 0);
        return g < now_g_ ? now_g_ : g;
    }

    void place(const Entry& e);
    // Occupancy bits by slot (level * kSlots + slot).
    void set_occupied(uint32_t bucket) {
        occ_[bucket / kSlots][(bucket % kSlots) / 64] |= uint64_t{1} << (bucket % 64);
    }
    void clear_occupied(uint32_t bucket) {
        occ_[bucket / kSlots][(bucket % kSlots) / 64] &= ~(uint64_t{1} << (bucket % 64));
    }
    // The first occupied slot of a level from `from` to `to` (both
    // included, from <= to), or kSlots.
    static uint32_t first_occupied(const Occupancy& o, uint32_t from, uint32_t to);
    // The first occupied slot of level k (k >= 1) after the one the clock
    // is in, and the granule it starts at; slot kSlots if there is none.
    struct Above {
        uint32_t slot;
        uint64_t start;
    };
    Above first_above(int k) const;
    void collect_due(uint64_t now);
    // Empties a slot into taken_ (whose old storage the slot keeps); its
    // timers are placed again or fired before collect_due returns.
    void detach(uint32_t bucket);

    int shift_;
    uint64_t now_g_ = 0;
    std::array<Occupancy, kLevels> occ_{};
    std::array<std::vector<Entry>, kLevels * kSlots> slots_;
    HugeVector<Where> where_;  // by timer: 800 KB for 100,000 classes
    size_t entries_ = 0;
    std::vector<Entry> taken_;   // reused: no allocation once warm
    std::vector<Entry> parked_;  // far-future timers met on the way
    std::vector<uint32_t> due_;
};

}  // namespace sluice::shaper
