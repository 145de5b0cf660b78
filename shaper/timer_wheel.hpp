// Timer wheel: where classes that wait for tokens sleep.
//
// A class whose bucket is empty knows when it may send again; it is put on
// this wheel and forgotten until then, so waiting classes cost nothing per
// packet. The wheel has eight levels of 256 slots. Level 0's slots are one
// granule each and hold the timers due within 256 granules; level k's are
// 8^k granules wide, and a timer further out goes to the lowest level whose
// 256 slots reach its due time, rounded up to that level's slot boundary.
// A slot fires whole when time passes its boundary. Timers are never moved
// down a level as time approaches them (no cascade): each is placed once.
// The price is lateness: a timer on level k waits at least 254 slots of
// level k-1, and its rounding is less than one slot of level k, so it fires
// at most 8/254 (3%) of its wait late, and never early. For a class waiting
// for its tokens, a late wake-up only moves the tokens it gained meanwhile
// to its next packet: its rate over time is the same. Eight levels reach
// 255 x 8^7 granules (about nine minutes at a microsecond); a timer beyond
// is parked in the farthest slot and placed again when that comes.
//
// Why no cascade: with 100,000 classes a waiting class typically needs
// milliseconds for a packet's tokens, and every timer placed on level 1
// was placed again on level 0 before it fired; each placement writes the
// timer's position, a cache miss. Why 256 slots: a thousand classes
// sharing a few Gbit/s wait tens to hundreds of microseconds, which level
// 0 covers exactly.
//
// A 256-bit occupancy mask per level (four words) lets time jump over
// empty stretches with count-trailing-zeros, so schedule and cancel are
// O(1) and advancing costs O(levels + timers due), whatever the number of
// classes and however far the (possibly virtual) clock jumps.
//
// A slot is an array of (due tick, timer) entries, not a linked list:
// arming appends to the slot's array, and cancelling moves the slot's last
// entry into the cancelled one's place, so both touch the slot's end (in
// cache: it was written last) and a per-timer position (8 bytes a timer),
// never another timer's node. With 100,000 classes a linked list's
// neighbours were two cold cache lines per arming and cancelling.
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

    // The tick from which advance() fires the next timer (due then or a
    // little before: see the rounding above), if any is armed.
    std::optional<uint64_t> next_bound() const;

private:
    static constexpr int kLevels = 8;
    static constexpr int kSlotBits = 8;
    static constexpr uint32_t kSlots = 1u << kSlotBits;  // per level
    static constexpr int kLevelBits = 3;                 // level k's slots: 8^k granules
    static constexpr uint32_t kWords = kSlots / 64;      // of occupancy
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

    // v / 2^s, rounded up.
    static uint64_t shift_up(uint64_t v, int s) { return (v >> s) + ((v & ((uint64_t{1} << s) - 1)) != 0); }

    uint64_t granule_of(uint64_t tick) const {
        const uint64_t g = shift_up(tick, shift_);
        return g < now_g_ ? now_g_ : g;
    }

    // The number of level k's slot boundary at or after granule g (level
    // 0's slots are granules).
    static uint64_t boundary(int k, uint64_t g) { return shift_up(g, kLevelBits * k); }
    // The slot boundary level k's clock has passed last.
    uint64_t passed(int k) const { return now_g_ >> (kLevelBits * k); }

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
    // How many slots after boundary `from` level k's first occupied slot
    // is, going round once (0 if it is from's own), or kSlots if none is.
    uint32_t first_from(int k, uint64_t from) const;
    // Fires or parks every timer of level k with boundary from `first` to
    // `last` (last - first < kSlots, or the whole level).
    void take_due(int k, uint64_t first, uint64_t last, uint64_t now);
    void collect_due(uint64_t now);
    // Empties a slot into taken_ (whose old storage the slot keeps).
    void detach(uint32_t bucket);

    int shift_;
    uint64_t now_g_ = 0;
    std::array<Occupancy, kLevels> occ_{};
    std::array<std::vector<Entry>, kLevels * kSlots> slots_;
    HugeVector<Where> where_;  // by timer: 800 KB for 100,000 classes
    size_t entries_ = 0;
    std::vector<Entry> taken_;   // reused: no allocation once warm
    std::vector<Entry> parked_;  // far-future timers whose parking slot came
    std::vector<uint32_t> due_;
};

}  // namespace sluice::shaper
