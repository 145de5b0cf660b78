#include "shaper/timer_wheel.hpp"

namespace sluice::shaper {

uint32_t TimerWheel::first_occupied(const Occupancy& o, uint32_t from, uint32_t to) {
    for (uint32_t w = from / 64; w <= to / 64; ++w) {
        uint64_t bits = o[w];
        if (w == from / 64) bits &= ~uint64_t{0} << (from % 64);
        if (w == to / 64 && to % 64 != 63) bits &= (uint64_t{1} << (to % 64 + 1)) - 1;
        if (bits) return w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
    }
    return kSlots;
}

uint32_t TimerWheel::first_from(int k, uint64_t from) const {
    const uint32_t s = static_cast<uint32_t>(from) & (kSlots - 1);
    if (const uint32_t slot = first_occupied(occ_[k], s, kSlots - 1); slot != kSlots) return slot - s;
    if (s == 0) return kSlots;
    if (const uint32_t slot = first_occupied(occ_[k], 0, s - 1); slot != kSlots) return kSlots - s + slot;
    return kSlots;
}

void TimerWheel::place(const Entry& e) {
    const uint64_t g = granule_of(e.expiry);
    int level = 0;
    uint64_t at = g;
    if (g - now_g_ >= kSlots) {
        for (level = 1;; ++level) {
            at = boundary(level, g);
            if (at - passed(level) < kSlots) break;
            if (level == kLevels - 1) {
                // Beyond the top level's reach: park in its farthest slot;
                // the timer is placed again when that slot comes.
                at = passed(level) + kSlots - 1;
                break;
            }
        }
    }
    const uint32_t bucket = static_cast<uint32_t>(level) * kSlots + (static_cast<uint32_t>(at) & (kSlots - 1));
    std::vector<Entry>& v = slots_[bucket];
    where_[e.id] = {bucket, static_cast<uint32_t>(v.size())};
    v.push_back(e);
    ++entries_;
    set_occupied(bucket);
}

void TimerWheel::detach(uint32_t bucket) {
    taken_.clear();
    std::swap(taken_, slots_[bucket]);
    entries_ -= taken_.size();
    clear_occupied(bucket);
}

void TimerWheel::take_due(int k, uint64_t first, uint64_t last, uint64_t now) {
    const Occupancy& o = occ_[k];
    const uint32_t from = static_cast<uint32_t>(first) & (kSlots - 1);
    const uint32_t to = static_cast<uint32_t>(last) & (kSlots - 1);
    auto take_range = [&](uint32_t a, uint32_t b) {
        for (uint32_t slot = first_occupied(o, a, b); slot <= b;
             slot = slot == b ? kSlots : first_occupied(o, slot + 1, b)) {
            detach(static_cast<uint32_t>(k) * kSlots + slot);
            for (const Entry& e : taken_) {
                if (e.expiry > now) {
                    parked_.push_back(e);  // parked far-future timer, not due yet
                } else {
                    where_[e.id].bucket = kUnscheduled;  // fire() may arm it again
                    due_.push_back(e.id);
                }
            }
        }
    };
    if (last - first >= kSlots - 1) {
        take_range(0, kSlots - 1);
    } else if (from <= to) {
        take_range(from, to);
    } else {
        take_range(from, kSlots - 1);
        take_range(0, to);
    }
}

void TimerWheel::collect_due(uint64_t now) {
    uint64_t target = now >> shift_;
    if (target < now_g_) target = now_g_;
    parked_.clear();
    // Level 0: the granule the clock is in is due too (a timer placed there
    // since the last call is due by now), then every one up to the target.
    take_due(0, now_g_, target, now);
    // Level k: the boundaries passed since the last call. Where none was,
    // none was on the levels above either (theirs are multiples of it).
    for (int k = 1; k < kLevels; ++k) {
        const uint64_t before = passed(k);
        const uint64_t after = target >> (kLevelBits * k);
        if (after == before) break;
        take_due(k, before + 1, after, now);
    }
    now_g_ = target;
    // Parked timers land relative to the new clock.
    for (const Entry& e : parked_) place(e);
    parked_.clear();
}

std::optional<uint64_t> TimerWheel::next_bound() const {
    // Not the lowest level's first timer: a timer placed on level 1 long
    // ago may be due before one placed on level 0 just now.
    std::optional<uint64_t> best;
    for (int k = 0; k < kLevels; ++k) {
        // Level 0's current granule may hold timers; a higher level's
        // current slot holds none (their boundary has passed).
        const uint64_t start = k == 0 ? now_g_ : passed(k) + 1;
        const uint32_t d = first_from(k, start);
        if (d == kSlots) continue;
        const uint64_t g = (start + d) << (kLevelBits * k);
        if (!best || g < *best) best = g;
    }
    if (!best) return std::nullopt;
    return *best << shift_;
}

}  // namespace sluice::shaper
