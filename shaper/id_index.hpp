// Class id -> slot, for the packet path.
//
// Class ids are any 32-bit values chosen by the operator; the scheduler's
// arrays are indexed by a dense slot. This open-addressing table (linear
// probing, kept under half full, Fibonacci hashing) answers a lookup in one
// or two cache lines. Inserts and erases happen on the control path only.
#pragma once

#include <cstdint>
#include <vector>

namespace sluice::shaper {

class IdIndex {
public:
    static constexpr uint32_t kMissing = 0xffffffffu;

    IdIndex() { rebuild(16); }

    uint32_t find(uint32_t id) const {
        for (uint32_t i = home(id);; i = (i + 1) & mask_) {
            const Entry& e = table_[i];
            if (e.slot == kMissing) return kMissing;
            if (e.id == id) return e.slot;
        }
    }

    // Starts loading the line a find(id) will read.
    void prefetch(uint32_t id) const { __builtin_prefetch(&table_[home(id)]); }

    void insert(uint32_t id, uint32_t slot) {
        if ((size_ + 1) * 2 > table_.size()) rebuild(static_cast<uint32_t>(table_.size() * 2));
        uint32_t i = home(id);
        while (table_[i].slot != kMissing && table_[i].id != id) i = (i + 1) & mask_;
        if (table_[i].slot == kMissing) ++size_;
        table_[i] = {id, slot};
    }

    // Backward-shift deletion keeps probe chains unbroken without tombstones.
    void erase(uint32_t id) {
        uint32_t i = home(id);
        while (table_[i].slot != kMissing && table_[i].id != id) i = (i + 1) & mask_;
        if (table_[i].slot == kMissing) return;
        --size_;
        uint32_t hole = i;
        for (uint32_t j = (i + 1) & mask_; table_[j].slot != kMissing; j = (j + 1) & mask_) {
            const uint32_t h = home(table_[j].id);
            // Move j into the hole unless its home lies cyclically in (hole, j].
            const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
            if (!stays) {
                table_[hole] = table_[j];
                hole = j;
            }
        }
        table_[hole] = {0, kMissing};
    }

    uint32_t size() const { return size_; }

private:
    struct Entry {
        uint32_t id = 0;
        uint32_t slot = kMissing;
    };

    uint32_t home(uint32_t id) const {
        return static_cast<uint32_t>((uint64_t{id} * 0x9E3779B97F4A7C15ull) >> shift_);
    }

    void rebuild(uint32_t capacity) {
        std::vector<Entry> old = std::move(table_);
        table_.assign(capacity, Entry{});
        mask_ = capacity - 1;
        shift_ = 64 - static_cast<uint32_t>(__builtin_ctz(capacity));
        size_ = 0;
        for (const Entry& e : old)
            if (e.slot != kMissing) insert(e.id, e.slot);
    }

    std::vector<Entry> table_;
    uint32_t mask_ = 0;
    uint32_t shift_ = 60;
    uint32_t size_ = 0;
};

}  // namespace sluice::shaper
