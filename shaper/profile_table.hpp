// What a class's settings come to on the packet path (ClassProfile), and
// the table that interns them: classes with the same settings (a plan's
// subscribers, say) share one entry, counted by its users, so the profiles
// of many classes take a few cache lines and a class's own state has room
// for its queue. Interning is control-path work (a map by value); the
// packet path only indexes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "shaper/fq_codel.hpp"
#include "shaper/huge_array.hpp"
#include "shaper/leaf_queue.hpp"
#include "shaper/token_bucket.hpp"

namespace sluice::shaper {

struct ClassProfile {
    BucketProfile rate{};
    BucketProfile ceil{};
    uint32_t quantum = 0;
    LeafLimits limits{};
    FqParams fq{};  // fq_codel leaves only
};

class ProfileTable {
public:
    const ClassProfile& operator[](uint32_t i) const { return profiles_[i]; }

    // The index of an entry equal to `p`, added if there is none; one more user.
    uint32_t intern(const ClassProfile& p);
    // One user fewer; the entry is free for another profile after its last.
    void release(uint32_t i);

private:
    using Key = std::array<uint64_t, 11>;
    static Key key_of(const ClassProfile& p);

    HugeVector<ClassProfile> profiles_;
    std::vector<uint32_t> users_;
    std::vector<uint32_t> free_;
    std::map<Key, uint32_t> index_;  // by value
};

}  // namespace sluice::shaper
