#include "classifier/host_table.hpp"

#include <algorithm>
#include <bit>

namespace sluice::classifier {
namespace {

bool whole_addresses(const std::vector<Prefix>& list) {
    return std::all_of(list.begin(), list.end(),
                       [](const Prefix& p) { return p.length == (p.version == 4 ? 32 : 128); });
}

}  // namespace

bool host_only(const RuleSpec& r) {
    if (r.protocol || r.asks_for_ports() || r.dscp != kAnyDscp || r.vlan || r.pcp != 0xff ||
        r.fragment != FragmentMatch::any)
        return false;
    // Exactly one address field, every entry of it a whole address.
    if (r.src.empty() == r.dst.empty()) return false;
    return whole_addresses(r.src.empty() ? r.dst : r.src);
}

template <unsigned AddrLen>
void HostTable<AddrLen>::add(const uint8_t* addr, uint32_t rule) {
    pending_.emplace_back(key_of(addr), rule);
}

template <unsigned AddrLen>
void HostTable<AddrLen>::build() {
    // The lowest rule per address: sort by (key, rule), keep the first of each key.
    std::sort(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
        const int c = std::memcmp(a.first.w, b.first.w, sizeof a.first.w);
        return c != 0 ? c < 0 : a.second < b.second;
    });
    pending_.erase(std::unique(pending_.begin(), pending_.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   pending_.end());
    count_ = pending_.size();
    // At most half full, so that probes stay short.
    const uint64_t size = std::max<uint64_t>(16, std::bit_ceil(uint64_t{count_} * 2));
    const auto bits = static_cast<unsigned>(std::countr_zero(size));
    slots_.assign(size, Slot{});
    mask_ = static_cast<uint32_t>(size - 1);
    shift_ = 64 - bits;
    max_probe_ = 0;
    for (const auto& [key, rule] : pending_) {
        uint32_t s = index_of(key), probe = 0;
        while (slots_[s].rule != kNoRule) {
            s = (s + 1) & mask_;
            ++probe;
        }
        slots_[s] = Slot{key, rule};
        max_probe_ = std::max(max_probe_, probe);
    }
    pending_.clear();
    pending_.shrink_to_fit();
}

template class HostTable<4>;
template class HostTable<16>;

}  // namespace sluice::classifier
