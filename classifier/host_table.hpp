// Exact-match lookup of host addresses: the rules that name only whole
// addresses (a subscriber's /32 or /128, as source or destination) and
// nothing else, which at an ISP edge are most of the rules.
//
// rte_acl would walk its trie a byte at a time for these; here a packet
// costs one hash and, nearly always, one cache line: an open-addressing
// table per family and field, at most half full, probed linearly. Each
// address holds the first rule that names it. The longest probe sequence is
// known when the table is built and bounds every lookup, so no packet can
// make a lookup walk further than the policy's own worst case.
//
// Built off the packet path, immutable afterwards, read by any number of
// workers.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "classifier/rule_spec.hpp"

namespace sluice::classifier {

// Whether a rule matches on nothing but whole source addresses, or nothing
// but whole destination addresses (of one or both families), so that it can
// live in a HostTable instead of the ACL.
bool host_only(const RuleSpec& r);

// One family's table of one field (source or destination).
template <unsigned AddrLen>
class HostTable {
public:
    // Adds an address; for an address already present the lower rule stays.
    void add(const uint8_t* addr, uint32_t rule);
    // Sizes the table and places every address; call once after the adds.
    void build();

    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }

    // Where an address's probe starts; prefetch it a few packets ahead.
    uint32_t home(const uint8_t* addr) const { return index_of(key_of(addr)); }
    void prefetch(uint32_t home) const { __builtin_prefetch(&slots_[home]); }
    // The first rule naming `addr`, or kNoRule.
    uint32_t find(const uint8_t* addr, uint32_t home) const {
        const Key k = key_of(addr);
        for (uint32_t i = 0, s = home; i <= max_probe_; ++i, s = (s + 1) & mask_) {
            const Slot& slot = slots_[s];
            if (slot.rule == kNoRule) return kNoRule;
            if (slot.key == k) return slot.rule;
        }
        return kNoRule;
    }

private:
    struct Key {
        uint64_t w[AddrLen == 4 ? 1 : 2];
        bool operator==(const Key& o) const { return std::memcmp(w, o.w, sizeof w) == 0; }
    };
    struct Slot {
        Key key{};
        uint32_t rule = kNoRule;  // kNoRule: empty
    };

    static Key key_of(const uint8_t* addr) {
        Key k{};
        std::memcpy(k.w, addr, AddrLen);
        return k;
    }
    uint32_t index_of(const Key& k) const {
        uint64_t h = k.w[0];
        if constexpr (AddrLen == 16) h ^= k.w[1] * 0xc2b2ae3d27d4eb4full;
        // Fibonacci hashing: the high bits of the product are well mixed.
        h *= 0x9e3779b97f4a7c15ull;
        return static_cast<uint32_t>(h >> shift_) & mask_;
    }

    std::vector<std::pair<Key, uint32_t>> pending_;
    std::vector<Slot> slots_ = std::vector<Slot>(1);
    uint32_t mask_ = 0;
    unsigned shift_ = 63;
    uint32_t max_probe_ = 0;
    size_t count_ = 0;
};

extern template class HostTable<4>;
extern template class HostTable<16>;

}  // namespace sluice::classifier
