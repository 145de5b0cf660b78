#include "shaper/profile_table.hpp"

namespace sluice::shaper {

ProfileTable::Key ProfileTable::key_of(const ClassProfile& p) {
    return {p.rate.cost_per_byte, static_cast<uint64_t>(p.rate.size), p.ceil.cost_per_byte,
            static_cast<uint64_t>(p.ceil.size), p.quantum, p.limits.packets, p.limits.bytes,
            p.fq.flows, p.fq.quantum, p.fq.codel.target, p.fq.codel.interval};
}

uint32_t ProfileTable::intern(const ClassProfile& p) {
    const auto [it, added] = index_.try_emplace(key_of(p), 0);
    if (added) {
        if (free_.empty()) {
            it->second = static_cast<uint32_t>(profiles_.size());
            profiles_.push_back(p);
            users_.push_back(0);
        } else {
            it->second = free_.back();
            free_.pop_back();
            profiles_[it->second] = p;
        }
    }
    ++users_[it->second];
    return it->second;
}

void ProfileTable::release(uint32_t i) {
    if (--users_[i] > 0) return;
    index_.erase(key_of(profiles_[i]));
    free_.push_back(i);
}

}  // namespace sluice::shaper
