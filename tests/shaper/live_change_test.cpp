// Live changes applied between bursts, with packets queued.
#include <catch2/catch.hpp>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

struct Fixture {
    Scheduler s{[] {
        SchedulerConfig c;
        c.tick_hz = kHz;
        return c;
    }()};
    void add(const ClassConfig& c) {
        const Status st = s.apply(AddClass{c}, 0);
        INFO(st.error());
        REQUIRE(st.ok());
    }
};

}  // namespace

TEST_CASE("a rate change mid-run takes effect within one round and loses nothing", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(100)));
    f.add(leaf(10, 1, mbit(5), mbit(5)));
    VirtualTraffic t(f.s);
    Source src;
    src.class_id = 10;
    src.keep_queued = 200;
    const size_t i = t.add(src);

    t.run(sec(5), sec(1), sec(5));
    CHECK(t.source(i).window_rate(sec(4)) == Approx(mbit(5)).epsilon(0.01));
    const uint64_t before = t.source(i).departed_packets;

    ModifyClass m;
    m.id = 10;
    m.rate = mbit(20);
    m.ceil = mbit(20);
    REQUIRE(f.s.apply(m, t.now()).ok());
    CHECK(f.s.snapshot(10)->backlog_packets == 200);  // queued packets kept

    // The next 10 ms already run at the new rate (a round here is one
    // packet time, 0.6 ms at 20 Mbit/s).
    t.source(i).window_bytes = 0;
    const uint64_t change_at = t.now();
    t.run(change_at + ms(10), change_at, change_at + ms(10));
    CHECK(t.source(i).window_rate(ms(10)) == Approx(mbit(20)).epsilon(0.1));

    t.source(i).window_bytes = 0;
    t.run(change_at + sec(5), change_at + ms(10), change_at + sec(5));
    CHECK(t.source(i).window_rate(sec(5) - ms(10)) == Approx(mbit(20)).epsilon(0.01));
    CHECK(t.source(i).departed_packets > before);
    CHECK(t.drops() == 0);
    CHECK(t.source(i).offered_packets == t.source(i).departed_packets + f.s.backlog_packets());
}

TEST_CASE("lowering a rate takes effect at once and keeps the queue", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(100)));
    f.add(leaf(10, 1, mbit(20), mbit(20)));
    VirtualTraffic t(f.s);
    Source src;
    src.class_id = 10;
    const size_t i = t.add(src);
    t.run(sec(2));
    ModifyClass m;
    m.id = 10;
    m.rate = mbit(2);
    m.ceil = mbit(2);
    REQUIRE(f.s.apply(m, t.now()).ok());
    const uint64_t at = t.now();
    t.source(i).window_bytes = 0;
    t.run(at + sec(5), at + ms(100), at + sec(5));
    CHECK(t.source(i).window_rate(sec(5) - ms(100)) == Approx(mbit(2)).epsilon(0.01));
    CHECK(t.drops() == 0);
}

TEST_CASE("a priority change moves a queued class ahead of its sibling", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(10)));
    f.add(leaf(10, 1, mbit(1), mbit(10), 3));
    f.add(leaf(11, 1, mbit(1), mbit(10), 0));
    VirtualTraffic t(f.s);
    Source a;
    a.class_id = 10;
    const size_t ia = t.add(a);
    Source b;
    b.class_id = 11;
    t.add(b);
    t.run(sec(2), sec(1), sec(2));
    CHECK(t.source(ia).window_rate(sec(1)) == Approx(mbit(1)).epsilon(0.02));  // only its rate
    ModifyClass m;
    m.id = 10;
    m.prio = 0;
    m.weight = 9;  // now equal priority, and 9:1 of the excess
    REQUIRE(f.s.apply(m, t.now()).ok());
    const uint64_t at = t.now();
    t.source(ia).window_bytes = 0;
    t.run(at + sec(5), at + sec(1), at + sec(5));
    CHECK(t.source(ia).window_rate(sec(4)) == Approx(mbit(1) + mbit(8) * 0.9).epsilon(0.01));
}

TEST_CASE("removing a class moves its queued packets to the named class", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(10)));
    f.add(leaf(10, 1, mbit(1)));
    f.add(leaf(11, 1, mbit(1)));
    for (uint64_t k = 0; k < 30; ++k) REQUIRE(f.s.enqueue(10, Packet{k, 1000, 0}, 0));
    RemoveClass r;
    r.id = 10;
    r.move_packets_to = 11;
    REQUIRE(f.s.apply(r, 1).ok());
    CHECK(!f.s.snapshot(10));
    CHECK(f.s.snapshot(11)->backlog_packets == 30);
    std::vector<uint64_t> out;
    Packet buf[64];
    for (uint64_t now = 1; now < sec(1); now += ms(1)) {
        const uint32_t n = f.s.dequeue_burst(buf, 64, now);
        for (uint32_t k = 0; k < n; ++k) out.push_back(buf[k].handle);
    }
    REQUIRE(out.size() == 30);
    for (uint64_t k = 0; k < 30; ++k) CHECK(out[k] == k);  // in their order
}

TEST_CASE("removing a subtree without a destination drops its packets under class_removed, each reported",
          "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(10)));
    f.add(leaf(2, 1, mbit(5), mbit(10)));
    f.add(leaf(20, 2, mbit(1), mbit(10), 0, 1, LeafKind::fq_codel));
    f.add(leaf(21, 2, mbit(1), mbit(10)));
    std::vector<std::pair<uint64_t, DropReason>> dropped;
    f.s.set_drop_handler(
        [](void* ctx, const Packet& p, DropReason why) {
            static_cast<std::vector<std::pair<uint64_t, DropReason>>*>(ctx)->push_back({p.handle, why});
        },
        &dropped);
    for (uint64_t k = 0; k < 10; ++k) REQUIRE(f.s.enqueue(20 + k % 2, Packet{k, 500, uint32_t(k * 977)}, 0));
    REQUIRE(f.s.apply(RemoveClass{2, std::nullopt}, 1).ok());
    REQUIRE(dropped.size() == 10);
    for (const auto& [h, why] : dropped) CHECK(why == DropReason::class_removed);
    CHECK(f.s.backlog_packets() == 0);
    CHECK(f.s.class_count() == 1);
    // The root is a leaf again and carries traffic.
    REQUIRE(f.s.enqueue(1, Packet{99, 500, 0}, 2));
    Packet out[4];
    CHECK(f.s.dequeue_burst(out, 4, 3) == 1);
}

TEST_CASE("adding a child to a leaf that holds packets hands them to the child", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(10)));
    f.add(leaf(10, 1, mbit(1)));
    for (uint64_t k = 0; k < 5; ++k) REQUIRE(f.s.enqueue(10, Packet{k, 1000, 0}, 0));
    REQUIRE(f.s.apply(AddClass{leaf(100, 10, mbit(1))}, 1).ok());
    CHECK(f.s.snapshot(100)->backlog_packets == 5);
    Packet out[8];
    uint32_t got = 0;
    for (uint64_t now = 1; now < sec(1); now += ms(1)) got += f.s.dequeue_burst(out, 8, now);
    CHECK(got == 5);
}

TEST_CASE("invalid changes are refused with a message and change nothing", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(10)));
    f.add(leaf(10, 1, mbit(1), mbit(2)));
    const Status dup = f.s.apply(AddClass{leaf(10, 1, mbit(1))}, 0);
    CHECK(!dup.ok());
    CHECK(dup.error().find("already exists") != std::string::npos);
    const Status orphan = f.s.apply(AddClass{leaf(11, 77, mbit(1))}, 0);
    CHECK(orphan.error().find("parent 77") != std::string::npos);
    ModifyClass m;
    m.id = 10;
    m.ceil = mbit(0.5);
    const Status below = f.s.apply(m, 0);
    CHECK(below.error().find("below rate") != std::string::npos);
    CHECK(f.s.apply(RemoveClass{10, 1}, 0).error().find("not a leaf") != std::string::npos);
    CHECK(f.s.class_count() == 2);
}

TEST_CASE("a tree 40 levels deep is accepted and a deeper one is refused", "[shaper][live]") {
    Fixture f;
    f.add(leaf(1, kNoParent, mbit(10)));
    for (uint32_t id = 2; id <= 41; ++id) f.add(leaf(id, id - 1, mbit(1), mbit(10)));
    for (uint64_t k = 0; k < 3; ++k) REQUIRE(f.s.enqueue(41, Packet{k, 1000, 0}, 0));
    Packet out[4];
    uint32_t got = 0;
    for (uint64_t now = 1; now < sec(1); now += ms(1)) got += f.s.dequeue_burst(out, 4, now);
    CHECK(got == 3);
    for (uint32_t id = 42; id <= kMaxDepth + 1; ++id) f.add(leaf(id, id - 1, mbit(1), mbit(10)));
    CHECK(!f.s.apply(AddClass{leaf(1000, kMaxDepth + 1, mbit(1))}, 0).ok());
}
