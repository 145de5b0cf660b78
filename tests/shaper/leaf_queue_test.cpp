// Leaf queues on their own: limits, CoDel's first drop, fq_codel's choices.
#include <catch2/catch.hpp>

#include <vector>

#include "shaper/leaf_queue.hpp"

using namespace sluice::shaper;

namespace {

struct Bench {
    explicit Bench(uint32_t slots = 4'096) : pool(slots) { flows.reserve(slots); }

    PacketPool pool;
    FlowTable flows;
    LeafKind kind = LeafKind::fifo;
    LeafQueue q;
    LeafLimits limits;
    FqParams fq;
    LeafTuning t;
    uint32_t cls = 7;  // the class slot fq_codel's records are keyed by
    std::vector<std::pair<uint64_t, DropReason>> drops;

    void set_kind(LeafKind k) {
        kind = k;
        q.reset(k);
    }
    void push(uint64_t handle, uint32_t len, uint64_t now, uint32_t hash = 0) {
        const uint32_t s = pool.take();
        REQUIRE(s != kNoSlot);
        pool[s].packet = Packet{handle, len, hash};
        pool[s].enqueued_at = now;
        pool[s].cost = len;
        q.enqueue(kind, {pool, flows}, cls, s, limits, fq, now, [&](uint32_t v, DropReason r) {
            drops.push_back({pool[v].packet.handle, r});
            pool.give_back(v);
        });
    }
    uint64_t pop(uint64_t now) {
        const uint32_t s = q.dequeue(kind, {pool, flows}, fq, now, t, [&](uint32_t v, DropReason r) {
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
    b.set_kind(LeafKind::fifo);
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
    b.set_kind(LeafKind::codel);
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
    b.set_kind(LeafKind::fq_codel);
    b.limits.packets = 20;
    b.fq = {64, 1'500, {5'000, 100'000, 1'500}};
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

// ---- fq_codel's flow records (FlowTable) ----

namespace {

constexpr uint32_t kBulk = 0x1000'0000;
constexpr uint32_t kOther = 0xf000'0000;

void fq_setup(Bench& b) {
    b.set_kind(LeafKind::fq_codel);
    b.limits.packets = 1'000;
    b.fq = {1'024, 1'500, {5'000, 100'000, 1'500}};  // 5 ms / 100 ms in us-ticks
}

// A standing queue in the bulk flow until CoDel has dropped several times
// in one episode, then the flow drained; returns the time it emptied.
uint64_t codel_episode(Bench& b, uint64_t start) {
    for (uint64_t k = 0; k < 600; ++k) b.push(k, 1'000, start, kBulk);
    uint64_t now = start + 20'000;
    for (int i = 0; i < 400; ++i) b.pop(now += 1'000);
    while (b.pop(now) != UINT64_MAX) {
    }
    return now;
}

}  // namespace

TEST_CASE("a fq_codel flow holds a record only while it has packets, and an idle flow's record is reused",
          "[shaper][fq_codel]") {
    Bench b;
    fq_setup(b);
    const uint32_t bucket = fq_bucket(kBulk, b.fq.flows);
    CHECK(b.flows.in_use() == 0);
    b.push(1, 100, 0, kBulk);
    b.push(2, 100, 0, kBulk);
    const uint32_t rec = b.flows.find(b.cls, bucket);
    REQUIRE(rec != FlowTable::kNone);
    CHECK(b.flows.in_use() == 1);
    CHECK(b.q.packets(b.kind) == 2);
    CHECK(b.q.bytes(b.kind) == 200);
    CHECK(b.pop(1) == 1);
    CHECK(b.flows.in_use() == 1);
    CHECK(b.pop(1) == 2);
    // Empty, no CoDel memory: freed at once.
    CHECK(b.flows.in_use() == 0);
    CHECK(b.flows.find(b.cls, bucket) == FlowTable::kNone);
    // Another flow (another class, even) takes the same record next.
    b.cls = 8;
    b.push(3, 100, 2, kOther);
    CHECK(b.flows.find(8, fq_bucket(kOther, b.fq.flows)) == rec);
    CHECK(b.flows.in_use() == 1);
    CHECK(b.pop(3) == 3);
    CHECK(b.flows.in_use() == 0);
}

TEST_CASE("an emptied new fq_codel flow goes once through the old list; its record goes with the class's last packet",
          "[shaper][fq_codel]") {
    Bench b;
    fq_setup(b);
    for (uint64_t k = 0; k < 4; ++k) b.push(k, 1'500, 0, kBulk);
    CHECK(b.pop(1) == 0);
    CHECK(b.pop(1) == 1);  // bulk used its quantum: old
    b.push(100, 100, 2, kOther);
    CHECK(b.pop(3) == 100);  // new flow first, and it empties: parked in the old list
    CHECK(b.flows.parked() == 1);
    CHECK(b.flows.in_use() == 2);
    // Not new again: it waits behind the bulk flow's turn in the old list
    // (which, its deficit spent, passes the turn on).
    b.push(101, 100, 4, kOther);
    CHECK(b.flows.parked() == 0);
    CHECK(b.pop(5) == 101);
    CHECK(b.pop(5) == 2);
    CHECK(b.pop(5) == 3);
    CHECK(b.pop(5) == UINT64_MAX);
    CHECK(b.flows.in_use() == 0);
    CHECK(b.flows.parked() == 0);
}

TEST_CASE("a fq_codel flow's CoDel state survives a short idle and is forgotten after 16 intervals",
          "[shaper][fq_codel][codel]") {
    Bench b;
    fq_setup(b);
    const uint32_t bucket = fq_bucket(kBulk, b.fq.flows);
    const uint64_t idle_at = codel_episode(b, 0);
    REQUIRE(b.drops.size() > 2);
    // Idle, but remembered: its CoDel count matters if it comes back soon.
    CHECK(b.q.packets(b.kind) == 0);
    CHECK(b.flows.remembered() == 1);
    CHECK(b.flows.in_use() == 1);
    const uint32_t rec = b.flows.find(b.cls, bucket);
    REQUIRE(rec != FlowTable::kNone);
    const CodelState before = b.flows[rec].codel;
    CHECK(before.count - before.lastcount > 1);

    // Back after a short idle: the same record, the same count, and its
    // next dropping episode starts from it rather than from 1.
    const size_t drops_before = b.drops.size();
    codel_episode(b, idle_at + 50'000);
    CHECK(b.flows.find(b.cls, bucket) == rec);
    CHECK(b.drops.size() > drops_before);
    CHECK(b.flows[rec].codel.lastcount > 1);

    // Idle for longer than 16 intervals: freed by the next table operation.
    const uint64_t later = b.flows[rec].codel.first_above_time;
    CHECK(b.flows.remembered() == 1);
    b.push(999, 100, later + 1, kOther);
    CHECK(b.flows.remembered() == 0);
    CHECK(b.flows.find(b.cls, bucket) == FlowTable::kNone);
    CHECK(b.pop(later + 2) == 999);
    CHECK(b.flows.in_use() == 0);
}

TEST_CASE("draining a fq_codel class frees its records and forgets its remembered flows", "[shaper][fq_codel]") {
    Bench b;
    fq_setup(b);
    codel_episode(b, 0);
    REQUIRE(b.flows.remembered() == 1);
    for (uint32_t k = 0; k < 50; ++k) b.push(k, 100, 1'000'000, k * 0x0100'0000u);
    CHECK(b.flows.in_use() > 1);
    std::vector<uint32_t> taken;
    b.q.drain(b.kind, {b.pool, b.flows}, b.cls, b.t, [&](uint32_t s) {
        taken.push_back(s);
        b.pool.give_back(s);
    });
    CHECK(taken.size() == 50);
    CHECK(b.q.packets(b.kind) == 0);
    CHECK(b.flows.in_use() == 0);
    CHECK(b.flows.remembered() == 0);
    CHECK(b.pool.in_use() == 0);
}

TEST_CASE("a full flow table forgets its oldest remembered flow and never loses a packet for want of a record",
          "[shaper][fq_codel]") {
    FlowTable t;
    t.reserve(64);
    const uint32_t cap = t.capacity();
    REQUIRE(cap >= 64);
    // Every record remembered (a CoDel episode of several drops, just now).
    for (uint32_t k = 0; k < cap; ++k) {
        const uint32_t r = t.find_or_insert(1'000 + k, 0, 10);
        REQUIRE(r != FlowTable::kNone);
        t[r].codel.count = 5;
        t[r].codel.lastcount = 1;
        t[r].codel.drop_next = 10;
        t.release(r, 10, 1'000'000);
    }
    CHECK(t.remembered() == cap);
    CHECK(t.in_use() == cap);
    // A new flow takes the oldest remembered flow's record.
    CHECK(t.find_or_insert(5, 0, 11) != FlowTable::kNone);
    CHECK(t.find(1'000, 0) == FlowTable::kNone);
    CHECK(t.find(1'001, 0) != FlowTable::kNone);
    CHECK(t.remembered() == cap - 1);

    // As many packets as the pool holds, each its own flow in a full table
    // of remembered flows: all queued, none dropped.
    Bench b(64);
    fq_setup(b);
    for (uint32_t k = 0; k < b.flows.capacity(); ++k) {
        const uint32_t r = b.flows.find_or_insert(1'000 + k, 0, 10);
        b.flows[r].codel.count = 5;
        b.flows[r].codel.lastcount = 1;
        b.flows[r].codel.drop_next = 10;
        b.flows.release(r, 10, 1'000'000);
    }
    b.limits.packets = 64;
    for (uint32_t k = 0; k < 64; ++k) b.push(k, 100, 11, k << 26);
    CHECK(b.drops.empty());
    CHECK(b.q.packets(b.kind) == 64);
    uint32_t out = 0;
    while (b.pop(12) != UINT64_MAX) ++out;
    CHECK(out == 64);
    CHECK(b.drops.empty());
}
