// Class id -> slot, for the packet path.
//
// Class ids are any 32-bit values chosen by the operator; the scheduler's
// arrays are indexed by a dense slot. This open-addressing table (linear
// probing, kept under half full, Fibonacci hashing) answers a lookup in one
// or two cache lines. Inserts and erases happen on the control path only.
//
// Ids are usually numbered in a run (sluiced numbers its classes from 0; a
// provisioning system counts up from some base). While all ids fall in a
// range at most four times their number (plus a little), a plain array over
// that range answers instead: 4 bytes an id, 400 KB for 100,000 classes,
// which stays in L2 where the 2 MB table would not, so the packet path's
// lookup is not a cache miss.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sluice::shaper {

class IdIndex {
public:
    static constexpr uint32_t kMissing = 0xffffffffu;

    IdIndex() { rebuild(16); }

    uint32_t find(uint32_t id) const {
        if (dense_) {
            const uint32_t d = id - base_;
            return d < direct_.size() ? direct_[d] : kMissing;
        }
        for (uint32_t i = home(id);; i = (i + 1) & mask_) {
            const Entry& e = table_[i];
            if (e.slot == kMissing) return kMissing;
            if (e.id == id) return e.slot;
        }
    }

    // Starts loading the line a find(id) will read.
    void prefetch(uint32_t id) const {
        if (!dense_)
            __builtin_prefetch(&table_[home(id)]);
        else if (id - base_ < direct_.size())
            __builtin_prefetch(&direct_[id - base_]);
    }

    // Whether lookups use the array over the id range (for tests).
    bool dense() const { return dense_; }

    void insert(uint32_t id, uint32_t slot) {
        if ((size_ + 1) * 2 > table_.size()) rebuild(static_cast<uint32_t>(table_.size() * 2));
        place(id, slot);
        if (size_ == 1) lo_ = hi_ = id;
        lo_ = std::min(lo_, id);
        hi_ = std::max(hi_, id);
        if (dense_ && id - base_ < direct_.size())
            direct_[id - base_] = slot;
        else
            redo_direct();
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
        if (dense_ && id - base_ < direct_.size()) direct_[id - base_] = kMissing;
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
            if (e.slot != kMissing) place(e.id, e.slot);
    }

    void place(uint32_t id, uint32_t slot) {
        uint32_t i = home(id);
        while (table_[i].slot != kMissing && table_[i].id != id) i = (i + 1) & mask_;
        if (table_[i].slot == kMissing) ++size_;
        table_[i] = {id, slot};
    }

    // An id fell outside the array (or there is none): lay it out again
    // over the ids' range (which only widens; erasing leaves holes), with
    // room to grow on the side the range grew, or give it up if the range
    // is too sparse.
    void redo_direct() {
        const uint64_t range = uint64_t{hi_} - lo_ + 1;
        if (range > uint64_t{kSparse} * size_ + kSlack) {
            dense_ = false;
            direct_ = {};
            return;
        }
        const uint64_t room = std::min<uint64_t>(range / 2 + kSlack, uint64_t{kSparse} * size_ + kSlack - range);
        const bool grew_down = dense_ && lo_ < base_;
        const uint64_t low = grew_down ? (lo_ > room ? lo_ - room : 0) : lo_;
        const uint64_t high = std::min<uint64_t>(grew_down ? hi_ : hi_ + room, 0xffffffffu);
        base_ = static_cast<uint32_t>(low);
        direct_.assign(high - low + 1, kMissing);
        for (const Entry& e : table_)
            if (e.slot != kMissing) direct_[e.id - base_] = e.slot;
        dense_ = true;
    }

    static constexpr uint32_t kSparse = 4;    // array entries per id at most...
    static constexpr uint32_t kSlack = 1'024;  // ...plus these

    std::vector<Entry> table_;
    std::vector<uint32_t> direct_;  // slot by id - base_, while dense_
    uint32_t base_ = 0;
    uint32_t lo_ = 0, hi_ = 0;  // the ids' range (widened by inserts only)
    bool dense_ = false;
    uint32_t mask_ = 0;
    uint32_t shift_ = 60;
    uint32_t size_ = 0;
};

}  // namespace sluice::shaper
