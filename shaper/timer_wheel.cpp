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

TimerWheel::Above TimerWheel::first_above(int k) const {
    const uint32_t dk = static_cast<uint32_t>(now_g_ >> (kDigitBits * k)) & (kSlots - 1);
    const uint32_t slot = dk == kSlots - 1 ? kSlots : first_occupied(occ_[k], dk + 1, kSlots - 1);
    if (slot == kSlots) return {kSlots, 0};
    const int above = kDigitBits * (k + 1);
    const uint64_t upper = above >= 64 ? 0 : (now_g_ >> above) << above;
    return {slot, upper | (uint64_t{slot} << (kDigitBits * k))};
}

void TimerWheel::place(const Entry& e) {
    uint64_t g = granule_of(e.expiry);
    // Beyond the top level's span: park in the last slot that shares the top
    // digits with now; the timer is re-placed when that slot is reached.
    const uint64_t span_end = now_g_ | ((uint64_t{1} << (kDigitBits * kLevels)) - 1);
    if (g > span_end) g = span_end;
    const uint64_t diff = g ^ now_g_;
    const int level = diff == 0 ? 0 : (63 - std::countl_zero(diff)) / kDigitBits;
    const uint32_t slot = static_cast<uint32_t>(g >> (kDigitBits * level)) & (kSlots - 1);
    const uint32_t bucket = static_cast<uint32_t>(level) * kSlots + slot;
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

void TimerWheel::collect_due(uint64_t now) {
    uint64_t target = now >> shift_;
    if (target < now_g_) target = now_g_;
    // Parked far-future timers met on the way are placed again only once the
    // clock has settled, so they land relative to the final granule.
    parked_.clear();
    auto settle = [&] {
        now_g_ = target;
        for (const Entry& e : parked_) place(e);
        parked_.clear();
    };
    for (;;) {
        // Level 0: every slot from the current granule to the target (or the
        // end of this block of kSlots granules) is due.
        const uint32_t d = static_cast<uint32_t>(now_g_) & (kSlots - 1);
        const bool same_block = (target >> kDigitBits) == (now_g_ >> kDigitBits);
        const uint32_t end = same_block ? static_cast<uint32_t>(target) & (kSlots - 1) : kSlots - 1;
        for (uint32_t slot = first_occupied(occ_[0], d, end); slot <= end;
             slot = slot == end ? kSlots : first_occupied(occ_[0], slot + 1, end)) {
            detach(slot);
            for (const Entry& e : taken_) {
                if (e.expiry > now) {
                    parked_.push_back(e);  // parked far-future timer, not due yet
                } else {
                    where_[e.id].bucket = kUnscheduled;  // fire() may arm it again
                    due_.push_back(e.id);
                }
            }
        }
        if (same_block) {
            settle();
            return;
        }
        // Level 0 is empty now. Jump to the first occupied slot above, which
        // is always in the lowest level that has one.
        bool found = false;
        for (int k = 1; k < kLevels; ++k) {
            const Above a = first_above(k);
            if (a.slot == kSlots) continue;
            if (a.start > target) break;
            now_g_ = a.start;
            detach(static_cast<uint32_t>(k) * kSlots + a.slot);
            // Each lands in a lower level: the upper digits now match.
            for (const Entry& e : taken_) place(e);
            found = true;
            break;
        }
        if (!found) {
            settle();
            return;
        }
    }
}

std::optional<uint64_t> TimerWheel::next_bound() const {
    const uint32_t d = static_cast<uint32_t>(now_g_) & (kSlots - 1);
    if (const uint32_t slot = first_occupied(occ_[0], d, kSlots - 1); slot != kSlots) {
        const uint64_t g = (now_g_ & ~uint64_t{kSlots - 1}) | slot;
        return g << shift_;
    }
    for (int k = 1; k < kLevels; ++k)
        if (const Above a = first_above(k); a.slot != kSlots) return a.start << shift_;
    return std::nullopt;
}

}  // namespace sluice::shaper
