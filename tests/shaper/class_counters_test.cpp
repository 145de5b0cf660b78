// Class counters over a tree: an inner class's departures, drops and backlog
// are its subtree's, and the queues emptied at shutdown are booked as such.
#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

constexpr size_t kShutdown = static_cast<size_t>(DropReason::shutdown);
constexpr size_t kCodel = static_cast<size_t>(DropReason::codel);
constexpr size_t kQueueLimit = static_cast<size_t>(DropReason::queue_limit);
constexpr size_t kRemoved = static_cast<size_t>(DropReason::class_removed);

// root 1 -> groups 2, 3 -> group 2's subgroup 20 and leaf 21, group 3's
// leaves 30 (CoDel) and 31; subgroup 20 -> leaves 200, 201. Leaves borrow:
// their rates are small, the root's is what limits.
struct Tree {
    static constexpr std::array<uint32_t, 5> kLeaves{200, 201, 21, 30, 31};
    Scheduler s{[] {
        SchedulerConfig cfg;
        cfg.tick_hz = kHz;
        return cfg;
    }()};
    Tree() {
        auto small_queue = [](ClassConfig c) {
            c.leaf.limit_packets = 50;
            return c;
        };
        const ClassConfig classes[] = {
            leaf(1, kNoParent, mbit(20)),
            leaf(2, 1, mbit(10), mbit(20)),
            leaf(3, 1, mbit(10), mbit(20)),
            leaf(20, 2, mbit(5), mbit(20)),
            small_queue(leaf(21, 2, mbit(1), mbit(20))),
            leaf(30, 3, mbit(1), mbit(20), 0, 1, LeafKind::codel),
            small_queue(leaf(31, 3, mbit(1), mbit(20))),
            leaf(200, 20, mbit(1), mbit(20)),
            small_queue(leaf(201, 20, mbit(1), mbit(20))),
        };
        for (const ClassConfig& c : classes) REQUIRE(s.apply(AddClass{c}, 0).ok());
    }
    ClassSnapshot snap(uint32_t id) const {
        const auto x = s.snapshot(id);
        REQUIRE(x);
        return *x;
    }
    // Every departure/drop/backlog field of `parent` against its children's sum.
    void check_sum(uint32_t parent, std::initializer_list<uint32_t> children) const {
        const ClassSnapshot p = snap(parent);
        ClassSnapshot sum;
        for (uint32_t c : children) {
            const ClassSnapshot k = snap(c);
            sum.counters.packets += k.counters.packets;
            sum.counters.bytes += k.counters.bytes;
            sum.counters.wire_bytes += k.counters.wire_bytes;
            for (size_t r = 0; r < kDropReasonCount; ++r) {
                sum.counters.drops[r] += k.counters.drops[r];
                sum.counters.drop_bytes[r] += k.counters.drop_bytes[r];
            }
            sum.backlog_packets += k.backlog_packets;
            sum.backlog_bytes += k.backlog_bytes;
        }
        INFO("class " << parent);
        CHECK(p.counters.packets == sum.counters.packets);
        CHECK(p.counters.bytes == sum.counters.bytes);
        CHECK(p.counters.wire_bytes == sum.counters.wire_bytes);
        CHECK(p.counters.drops == sum.counters.drops);
        CHECK(p.counters.drop_bytes == sum.counters.drop_bytes);
        CHECK(p.backlog_packets == sum.backlog_packets);
        CHECK(p.backlog_bytes == sum.backlog_bytes);
    }
    void check_all_sums() const {
        check_sum(20, {200, 201});
        check_sum(2, {20, 21});
        check_sum(3, {30, 31});
        check_sum(1, {2, 3});
    }
};

// Fewer packets kept waiting than the smallest queue holds: a saturating
// source whose arrivals a full queue drops would send forever.
Source saturating(uint32_t class_id, uint32_t length = 1'500, uint32_t keep_queued = 40) {
    Source s;
    s.class_id = class_id;
    s.length = length;
    s.keep_queued = keep_queued;
    return s;
}

struct DropLog {
    std::array<uint64_t, kDropReasonCount> by_reason{};
    static void on_drop(void* self, const Packet&, DropReason r) {
        ++static_cast<DropLog*>(self)->by_reason[static_cast<size_t>(r)];
    }
};

}  // namespace

TEST_CASE("an inner class's sent packets and bytes, drops and backlog are the sums over its children",
          "[shaper][stats]") {
    Tree t;
    VirtualTraffic traffic(t.s);
    // A different size per leaf: bytes are not packets times one length.
    // Leaf 21 is offered more than the root's rate at a steady pace, past
    // its 50-packet queue: queue_limit drops too.
    uint32_t length = 200;
    for (const uint32_t id : Tree::kLeaves) {
        Source src = saturating(id, length);
        if (id == 21) {
            src.kind = Source::Kind::paced;
            src.rate = mbit(30);
        }
        traffic.add(src);
        length += 300;
    }
    traffic.run(sec(2));

    t.check_all_sums();
    const ClassSnapshot root = t.snap(1);
    uint64_t departed_bytes = 0, departed_packets = 0;
    for (size_t i = 0; i < Tree::kLeaves.size(); ++i) {
        departed_packets += traffic.source(i).departed_packets;
        departed_bytes += traffic.source(i).departed_packets * traffic.source(i).length;
    }
    CHECK(root.counters.bytes > 0);
    CHECK(root.counters.packets == departed_packets);
    CHECK(root.counters.bytes == departed_bytes);
    // About two seconds of the root's 20 Mbit/s (its bucket lets a little more).
    CHECK(root.counters.bytes >= mbit(20) * 2 * 99 / 100);
    CHECK(root.counters.bytes <= mbit(20) * 2 * 101 / 100 + 20'000);
    CHECK(root.counters.drops[kQueueLimit] > 0);
    CHECK(root.counters.drops[kQueueLimit] + root.counters.drops[kCodel] == traffic.drops());
    CHECK(root.backlog_packets == t.s.backlog_packets());
    CHECK(root.backlog_packets > 0);
}

TEST_CASE("a removed class's departures and drops stay in its ancestors' sums", "[shaper][stats]") {
    Tree t;
    VirtualTraffic traffic(t.s);
    for (const uint32_t id : Tree::kLeaves) traffic.add(saturating(id));
    traffic.run(sec(1));
    const ClassSnapshot before = t.snap(1);
    const ClassSnapshot sub = t.snap(20);
    REQUIRE(sub.backlog_packets > 0);

    // The subgroup goes, with its two leaves and their queued packets
    // (their sources stop: they would only meet unknown_class).
    traffic.source(0).stop = traffic.source(1).stop = traffic.now();
    REQUIRE(t.s.apply(RemoveClass{20, std::nullopt}, traffic.now()).ok());
    const ClassSnapshot after = t.snap(1);
    CHECK(after.counters.packets == before.counters.packets);
    CHECK(after.counters.bytes == before.counters.bytes);
    CHECK(after.counters.drops[kRemoved] == before.counters.drops[kRemoved] + sub.backlog_packets);
    CHECK(after.backlog_packets == before.backlog_packets - sub.backlog_packets);
    // Group 2 keeps what its subgroup sent on top of what leaf 21 did.
    const ClassSnapshot group = t.snap(2);
    CHECK(group.counters.bytes == sub.counters.bytes + t.snap(21).counters.bytes);

    // And the sums go on from there.
    traffic.run(sec(2));
    CHECK(t.snap(1).counters.bytes > after.counters.bytes);
    t.check_sum(1, {2, 3});
}

TEST_CASE("a leaf that turns inner keeps what it sent as a leaf, under its children's sums", "[shaper][stats]") {
    Tree t;
    VirtualTraffic traffic(t.s);
    traffic.add(saturating(31, 1'000));
    traffic.run(sec(1));
    const ClassSnapshot as_leaf = t.snap(31);
    REQUIRE(as_leaf.counters.bytes > 0);
    traffic.source(0).stop = traffic.now();  // an inner class takes no packets
    REQUIRE(t.s.apply(AddClass{leaf(310, 31, mbit(1), mbit(20))}, traffic.now()).ok());
    traffic.add(saturating(310, 500));
    traffic.run(sec(2));
    const ClassSnapshot as_inner = t.snap(31);
    CHECK(as_inner.counters.bytes == as_leaf.counters.bytes + t.snap(310).counters.bytes);
    CHECK(t.snap(310).counters.bytes > 0);
}

TEST_CASE("discard_all books every queued packet as a shutdown drop, in its class and its ancestors, not as CoDel",
          "[shaper][stats]") {
    Tree t;
    // Standing queues, CoDel's included, at the root's rate.
    VirtualTraffic traffic(t.s);
    for (const uint32_t id : Tree::kLeaves) traffic.add(saturating(id));
    traffic.run(sec(1));
    const uint32_t queued = t.s.backlog_packets();
    REQUIRE(queued > 0);
    std::vector<ClassSnapshot> before;
    for (const uint32_t id : Tree::kLeaves) before.push_back(t.snap(id));
    REQUIRE(before[3].backlog_packets > 0);  // the CoDel leaf holds packets

    DropLog log;
    t.s.set_drop_handler(&DropLog::on_drop, &log);
    t.s.discard_all(DropReason::shutdown);

    CHECK(t.s.backlog_packets() == 0);
    CHECK(log.by_reason[kShutdown] == queued);
    uint64_t others = 0;
    for (size_t r = 0; r < kDropReasonCount; ++r)
        if (r != kShutdown) others += log.by_reason[r];
    CHECK(others == 0);
    for (size_t i = 0; i < Tree::kLeaves.size(); ++i) {
        const ClassSnapshot now = t.snap(Tree::kLeaves[i]);
        INFO("class " << Tree::kLeaves[i]);
        CHECK(now.counters.drops[kShutdown] == before[i].backlog_packets);
        CHECK(now.counters.drop_bytes[kShutdown] == before[i].backlog_bytes);
        CHECK(now.counters.packets == before[i].counters.packets);  // nothing departed
        CHECK(now.counters.drops[kCodel] == before[i].counters.drops[kCodel]);
        CHECK(now.backlog_packets == 0);
    }
    CHECK(t.snap(1).counters.drops[kShutdown] == queued);
    t.check_all_sums();
    CHECK(drop_reason_name(DropReason::shutdown) == "shutdown");

    // The scheduler is still sound: new packets queue and leave.
    Packet out[4];
    REQUIRE(t.s.enqueue(200, Packet{1, 100, 0}, traffic.now() + 1));
    CHECK(t.s.dequeue_burst(out, 4, traffic.now() + sec(1)) == 1);
}
