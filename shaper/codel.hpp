// CoDel (RFC 8289): active queue management by sojourn time.
//
// CoDel looks at how long each departing packet waited. A queue whose
// shortest wait stays above `target` for a whole `interval` is a standing
// queue, not a burst: CoDel then drops one packet and keeps dropping at
// intervals shrinking as 1/sqrt(drops), until the wait falls under target.
// It needs no tuning to the link rate and leaves bursts alone. The state is
// a few words per queue; the square root is only computed when dropping.
#pragma once

#include <bit>
#include <cstdint>

#include "shaper/packet.hpp"
#include "shaper/token_bucket.hpp"

namespace sluice::shaper {

struct CodelProfile {
    uint64_t target = 0;    // ticks
    uint64_t interval = 0;  // ticks
    uint32_t mtu = 1'514;   // a queue of at most one packet is never "standing"
};

struct CodelState {
    uint64_t first_above_time = 0;  // 0: below target
    uint64_t drop_next = 0;
    uint32_t count = 0;
    uint32_t lastcount = 0;
    bool dropping = false;
};

// 1/sqrt(n) in Q0.32 by Newton's method from a guess just below the root
// (so it converges monotonically); only runs when CoDel drops.
inline uint64_t codel_inv_sqrt_q32(uint32_t n) {
    if (n <= 1) return uint64_t{1} << 32;
    uint64_t x = (uint64_t{1} << 32) >> ((std::bit_width(n) + 1) / 2);
    for (int i = 0; i < 10; ++i) {
        // n * x^2 in Q0.64, kept whole: truncating x^2 first loses precision
        // once x is small.
        const uint128 nx2 = (uint128{n} * x * x) >> 32;
        const uint128 three = uint128{3} << 32;
        if (nx2 >= three) break;
        x = static_cast<uint64_t>((uint128{x} * static_cast<uint64_t>(three - nx2)) >> 33);
    }
    return x;
}

inline uint64_t codel_control_law(uint64_t t, uint64_t interval, uint32_t count) {
    return t + static_cast<uint64_t>((uint128{interval} * codel_inv_sqrt_q32(count)) >> 32);
}

// Takes the next packet worth sending from `q` (a PacketList or anything
// with pop(pool) and a `bytes` backlog), dropping per CoDel on the way;
// drop(slot) disposes of each dropped slot. Returns kNoSlot if `q` runs
// empty.
template <typename Queue, typename Drop>
uint32_t codel_dequeue(CodelState& st, const CodelProfile& pr, PacketPool& pool, Queue& q, uint64_t now,
                       Drop&& drop) {
    bool ok_to_drop = false;
    auto take = [&]() -> uint32_t {
        ok_to_drop = false;
        const uint32_t s = q.pop(pool);
        if (s == kNoSlot) {
            st.first_above_time = 0;
            return s;
        }
        const uint64_t sojourn = now - pool[s].enqueued_at;
        if (sojourn < pr.target || q.bytes <= pr.mtu) {
            st.first_above_time = 0;
        } else if (st.first_above_time == 0) {
            st.first_above_time = now + pr.interval;
        } else if (now >= st.first_above_time) {
            ok_to_drop = true;
        }
        return s;
    };

    uint32_t s = take();
    if (s == kNoSlot) {
        st.dropping = false;
        return s;
    }
    if (st.dropping) {
        if (!ok_to_drop) {
            st.dropping = false;
        } else {
            while (st.dropping && now >= st.drop_next) {
                drop(s);
                ++st.count;
                s = take();
                if (s == kNoSlot || !ok_to_drop) {
                    st.dropping = false;
                } else {
                    st.drop_next = codel_control_law(st.drop_next, pr.interval, st.count);
                }
                if (s == kNoSlot) return s;
            }
        }
    } else if (ok_to_drop) {
        drop(s);
        s = take();
        st.dropping = true;
        const uint32_t delta = st.count - st.lastcount;
        const auto since = static_cast<int64_t>(now - st.drop_next);
        st.count = (delta > 1 && since < static_cast<int64_t>(16 * pr.interval)) ? delta : 1;
        st.drop_next = codel_control_law(now, pr.interval, st.count);
        st.lastcount = st.count;
    }
    return s;
}

}  // namespace sluice::shaper
