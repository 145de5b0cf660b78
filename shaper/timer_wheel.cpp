#include "shaper/timer_wheel.hpp"

namespace sluice::shaper {

void TimerWheel::place(const Entry& e) {
    uint64_t g = granule_of(e.expiry);
    // Beyond the top level's span: park in the last slot that shares the top
    // digits with now; the timer is re-placed when that slot is reached.
    const uint64_t span_end = now_g_ | ((uint64_t{1} << (6 * kLevels)) - 1);
    if (g > span_end) g = span_end;
    const uint64_t diff = g ^ now_g_;
    const int level = diff == 0 ? 0 : (63 - std::countl_zero(diff)) / 6;
    const uint32_t slot = static_cast<uint32_t>(g >> (6 * level)) & 63;
    const uint32_t bucket = static_cast<uint32_t>(level) * 64 + slot;
    std::vector<Entry>& v = slots_[bucket];
    where_[e.id] = {bucket, static_cast<uint32_t>(v.size())};
    v.push_back(e);
    ++entries_;
    occ_[level] |= uint64_t{1} << slot;
}

void TimerWheel::detach(uint32_t bucket) {
    taken_.clear();
    std::swap(taken_, slots_[bucket]);
    entries_ -= taken_.size();
    occ_[bucket >> 6] &= ~(uint64_t{1} << (bucket & 63));
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
        // end of this 64-granule block) is due.
        const uint32_t d = now_g_ & 63;
        const bool same_block = (target >> 6) == (now_g_ >> 6);
        const uint32_t end = same_block ? static_cast<uint32_t>(target & 63) : 63;
        const uint64_t range = (end == 63 ? ~uint64_t{0} : ((uint64_t{1} << (end + 1)) - 1)) &
                               (~uint64_t{0} << d);
        uint64_t bits = occ_[0] & range;
        while (bits) {
            const auto slot = static_cast<uint32_t>(std::countr_zero(bits));
            bits &= bits - 1;
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
            const uint32_t dk = (now_g_ >> (6 * k)) & 63;
            const uint64_t above = dk == 63 ? 0 : occ_[k] & (~uint64_t{0} << (dk + 1));
            if (!above) continue;
            const auto slot = static_cast<uint32_t>(std::countr_zero(above));
            const uint64_t upper = 6 * (k + 1) >= 64 ? 0 : (now_g_ >> (6 * (k + 1))) << (6 * (k + 1));
            const uint64_t start = upper | (uint64_t{slot} << (6 * k));
            if (start > target) break;
            now_g_ = start;
            detach(static_cast<uint32_t>(k) * 64 + slot);
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
    const uint32_t d = now_g_ & 63;
    const uint64_t here = occ_[0] & (~uint64_t{0} << d);
    if (here) {
        const uint64_t g = (now_g_ & ~uint64_t{63}) | static_cast<uint64_t>(std::countr_zero(here));
        return g << shift_;
    }
    for (int k = 1; k < kLevels; ++k) {
        const uint32_t dk = (now_g_ >> (6 * k)) & 63;
        const uint64_t above = dk == 63 ? 0 : occ_[k] & (~uint64_t{0} << (dk + 1));
        if (!above) continue;
        const uint64_t upper = (now_g_ >> (6 * (k + 1))) << (6 * (k + 1));
        return (upper | (static_cast<uint64_t>(std::countr_zero(above)) << (6 * k))) << shift_;
    }
    return std::nullopt;
}

}  // namespace sluice::shaper
