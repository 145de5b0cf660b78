// Leaf queues on their own: limits, CoDel's first drop, fq_codel's choices.
#include <catch2/catch.hpp>

#include <vector>

#include "shaper/leaf_queue.hpp"

using namespace sluice::shaper;

namespace {

struct Bench {
    PacketPool pool{4'096};
    LeafQueue q;
    LeafLimits limits;
    LeafTuning t;
    std::vector<std::pair<uint64_t, DropReason>> drops;

    void push(uint64_t handle, uint32_t len, uint64_t now, uint32_t hash = 0) {
        const uint32_t s = pool.take();
        REQUIRE(s != kNoSlot);
        pool[s].packet = Packet{handle, len, hash};
        pool[s].enqueued_at = now;
        pool[s].cost = len;
        q.enqueue(pool, s, limits, t, [&](uint32_t v, DropReason r) {
            drops.push_back({pool[v].packet.handle, r});
            pool.give_back(v);
        });
    }
    uint64_t pop(uint64_t now) {
        const uint32_t s = q.dequeue(pool, now, t, [&](uint32_t v, DropReason r) {
            drops.push_back({pool[v].packet.handle, r});
            pool.give_back(v);
        });
        if (s == kNoSlot) return UINT64_MAX;
        const uint64_t h = pool[s].packet.handle;
        pool.give_back(s);
        return h;
    }
};

}  // namespace

TEST_CASE("a fifo refuses the packet that would exceed its packet or byte limit", "[shaper][fifo]") {
    Bench b;
    b.q.set_kind(LeafKind::fifo);
    b.limits.packets = 3;
    b.limits.bytes = 2'500;
    b.push(1, 1'000, 0);
    b.push(2, 1'000, 0);
    b.push(3, 1'000, 0);  // bytes would be 3000
    b.push(4, 400, 0);
    b.push(5, 10, 0);     // packets would be 4
    REQUIRE(b.drops.size() == 2);
    CHECK(b.drops[0] == std::pair<uint64_t, DropReason>{3, DropReason::queue_limit});
    CHECK(b.drops[1].first == 5);
    CHECK(b.pop(0) == 1);
    CHECK(b.pop(0) == 2);
    CHECK(b.pop(0) == 4);
    CHECK(b.pop(0) == UINT64_MAX);
}

TEST_CASE("CoDel drops only after the delay stays above target for a whole interval", "[shaper][codel]") {
    Bench b;
    b.q.set_kind(LeafKind::codel);
    b.limits.packets = 1'000;
    b.t.codel_profile = {5'000, 100'000, 1'500};  // 5 ms / 100 ms in us-ticks
    for (uint64_t k = 0; k < 500; ++k) b.push(k, 1'000, 0);
    // Every packet has waited 20 ms: above target from the first dequeue on.
    uint64_t now = 20'000;
    b.pop(now);
    for (int i = 0; i < 50; ++i) b.pop(now += 1'000);  // 50 ms later: still no drop
    CHECK(b.drops.empty());
    for (int i = 0; i < 60; ++i) b.pop(now += 1'000);  // past the interval
    REQUIRE(!b.drops.empty());
    CHECK(b.drops[0].second == DropReason::codel);
}

TEST_CASE("fq_codel serves a new sparse flow before an old bulk flow and drops from the fattest flow",
          "[shaper][fq_codel]") {
    Bench b;
    b.q.set_kind(LeafKind::fq_codel);
    b.limits.packets = 20;
    b.t.flows = 64;
    b.t.quantum = 1'500;
    b.t.codel_profile = {5'000, 100'000, 1'500};
    for (uint64_t k = 0; k < 20; ++k) b.push(k, 1'500, 0, 0x1000'0000);
    CHECK(b.pop(1) == 0);
    CHECK(b.pop(1) == 1);  // the bulk flow is now "old"
    b.push(100, 100, 2, 0xf000'0000);
    CHECK(b.pop(3) == 100);  // the new flow goes first
    // Over the limit: the bulk flow loses its head, the arrival stays.
    b.push(101, 100, 4, 0xf000'0000);
    b.push(102, 100, 4, 0xf000'0000);
    b.push(103, 100, 4, 0xf000'0000);
    REQUIRE(b.drops.size() == 1);
    CHECK(b.drops[0].first == 2);
    CHECK(b.drops[0].second == DropReason::queue_limit);
}
