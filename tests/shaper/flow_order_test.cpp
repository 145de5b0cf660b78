// Flows keep their order when the class tree changes under them: the owner
// takes the packets of classes about to be removed and puts them where the
// new classification sends their flows (move_queued) before any newer
// packet of those flows arrives, as sluiced's directions do when new
// classifier tables come.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

// A packet's handle: its flow and its sequence number in that flow.
uint64_t handle_of(uint32_t flow, uint32_t seq) { return (uint64_t{flow} << 32) | seq; }
uint32_t flow_of(uint64_t handle) { return static_cast<uint32_t>(handle >> 32); }
uint32_t seq_of(uint64_t handle) { return static_cast<uint32_t>(handle); }

// Where each flow goes: the classification the owner does, in one map.
struct FlowMap {
    std::map<uint32_t, uint32_t> class_of_flow;

    static void reclassify(void* self, Packet* packets, uint32_t n, uint32_t* class_ids) {
        const auto* m = static_cast<const FlowMap*>(self);
        for (uint32_t i = 0; i < n; ++i) class_ids[i] = m->class_of_flow.at(flow_of(packets[i].handle));
    }
};

// Departures and drops by flow: every departure must come after every
// earlier departure of its flow (drops leave gaps, never swaps).
struct Ledger {
    uint64_t offered = 0, departed = 0, dropped = 0, reordered = 0;
    std::map<DropReason, uint64_t> by_reason;
    std::map<uint32_t, uint32_t> last_seq;  // flow -> last departed sequence number + 1

    void depart(const Packet& p) {
        ++departed;
        uint32_t& last = last_seq[flow_of(p.handle)];
        if (seq_of(p.handle) + 1 <= last) ++reordered;
        last = std::max(last, seq_of(p.handle) + 1);
    }
    static void on_drop(void* self, const Packet&, DropReason why) {
        auto* l = static_cast<Ledger*>(self);
        ++l->dropped;
        ++l->by_reason[why];
    }
};

Scheduler make_scheduler() {
    SchedulerConfig c;
    c.tick_hz = kHz;
    c.packet_capacity = 8'192;
    return Scheduler(c);
}

}  // namespace

TEST_CASE("packets of a removed class go to their flows' new classes and leave before the flows' newer packets",
          "[shaper][live][order]") {
    Scheduler s = make_scheduler();
    Ledger ledger;
    s.set_drop_handler(&Ledger::on_drop, &ledger);
    REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(100))}, 0).ok());
    REQUIRE(s.apply(AddClass{leaf(10, 1, mbit(1), mbit(1))}, 0).ok());  // slow: it holds a queue
    uint32_t seq[3] = {0, 0, 0};
    auto offer = [&](uint32_t flow, uint32_t cls, uint64_t now) {
        ++ledger.offered;
        REQUIRE(s.enqueue(cls, Packet{handle_of(flow, seq[flow]++), 1'000, flow}, now));
    };
    for (int i = 0; i < 40; ++i) offer(1 + i % 2, 10, 0);
    Packet out[64];
    uint64_t now = 0;
    const uint32_t early = s.dequeue_burst(out, 64, now);
    for (uint32_t k = 0; k < early; ++k) ledger.depart(out[k]);
    REQUIRE(s.snapshot(10)->backlog_packets > 30);

    // A load: classes 20 (fifo) and 30 (fq_codel) come, flow 1 goes to 20
    // and flow 2 to 30, and class 10 goes. Both new classes are fast: left
    // where it was, flow 1's backlog would leave long after its new packets.
    REQUIRE(s.apply(AddClass{leaf(20, 1, mbit(50))}, now).ok());
    REQUIRE(s.apply(AddClass{leaf(30, 1, mbit(50), 0, 0, 1, LeafKind::fq_codel)}, now).ok());
    FlowMap next{{{1, 20}, {2, 30}}};
    const uint32_t backlog = s.snapshot(10)->backlog_packets;
    CHECK(s.move_queued(10, &FlowMap::reclassify, &next, now) == backlog);
    CHECK(s.snapshot(10)->backlog_packets == 0);
    CHECK(s.snapshot(20)->backlog_packets + s.snapshot(30)->backlog_packets == backlog);
    for (int i = 0; i < 20; ++i) offer(1 + i % 2, next.class_of_flow[1 + i % 2], now);
    REQUIRE(s.apply(RemoveClass{10, std::nullopt}, now).ok());

    while (s.backlog_packets() > 0) {
        now += ms(1);
        const uint32_t n = s.dequeue_burst(out, 64, now);
        for (uint32_t k = 0; k < n; ++k) ledger.depart(out[k]);
    }
    CHECK(ledger.reordered == 0);
    CHECK(ledger.dropped == 0);  // none as class_removed: class 10 was empty when it went
    CHECK(ledger.departed == ledger.offered);
    CHECK(ledger.last_seq[1] == 30);
    CHECK(ledger.last_seq[2] == 30);
    // The moved packets depart from, and are counted in, their new classes.
    CHECK(s.snapshot(20)->counters.packets + s.snapshot(30)->counters.packets == 60 - early);
}

TEST_CASE("a packet whose new class is missing or not a leaf stays in its class, in its order",
          "[shaper][live][order]") {
    Scheduler s = make_scheduler();
    Ledger ledger;
    s.set_drop_handler(&Ledger::on_drop, &ledger);
    REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(100))}, 0).ok());
    REQUIRE(s.apply(AddClass{leaf(2, 1, mbit(10))}, 0).ok());
    REQUIRE(s.apply(AddClass{leaf(3, 2, mbit(10))}, 0).ok());  // 2 is inner now
    REQUIRE(s.apply(AddClass{leaf(10, 1, kbit(100), kbit(100))}, 0).ok());
    REQUIRE(s.apply(AddClass{leaf(11, 1, mbit(10))}, 0).ok());
    uint32_t seq[4] = {0, 0, 0, 0};
    for (int i = 0; i < 30; ++i) {
        const uint32_t flow = 1 + i % 3;
        ++ledger.offered;
        REQUIRE(s.enqueue(10, Packet{handle_of(flow, seq[flow]++), 500, flow}, 0));
    }
    // Flow 1 to the inner class 2, flow 2 to a class that does not exist,
    // flow 3 to leaf 11: only flow 3's packets move.
    FlowMap next{{{1, 2}, {2, 99}, {3, 11}}};
    CHECK(s.move_queued(10, &FlowMap::reclassify, &next, 0) == 10);
    CHECK(s.snapshot(10)->backlog_packets == 20);
    CHECK(s.snapshot(11)->backlog_packets == 10);
    Packet out[64];
    uint64_t now = 0;
    while (s.backlog_packets() > 0) {
        now += ms(1);
        const uint32_t n = s.dequeue_burst(out, 64, now);
        for (uint32_t k = 0; k < n; ++k) ledger.depart(out[k]);
    }
    CHECK(ledger.reordered == 0);
    CHECK(ledger.departed == 30);
    // Asking about a class that is gone, or inner, moves nothing.
    CHECK(s.move_queued(77, &FlowMap::reclassify, &next, now) == 0);
    CHECK(s.move_queued(2, &FlowMap::reclassify, &next, now) == 0);
}

TEST_CASE("random tree changes under random flows keep every flow in order and every packet counted",
          "[shaper][live][order][soak]") {
    const uint64_t seed = GENERATE(1, 17, 2026);
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    Scheduler s = make_scheduler();
    Ledger ledger;
    s.set_drop_handler(&Ledger::on_drop, &ledger);
    REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(40))}, 0).ok());
    uint32_t next_id = 2;
    std::vector<uint32_t> groups{1};  // inner classes new leaves may hang under
    auto add_leaf = [&](uint64_t now) {
        const uint32_t parent = groups[rng() % groups.size()];
        const auto kind = static_cast<LeafKind>(rng() % 3);
        const uint64_t rate = kbit(200 + rng() % 5'000);
        ClassConfig c = leaf(next_id, parent, rate, rate * (1 + rng() % 8),
                             static_cast<uint8_t>(rng() % 8), 1 + static_cast<uint32_t>(rng() % 4), kind);
        c.leaf.limit_packets = 50 + static_cast<uint32_t>(rng() % 400);
        c.leaf.flows = 8;
        REQUIRE(s.apply(AddClass{c}, now).ok());
        return next_id++;
    };
    // Two groups under the root, so that leaves borrow at two levels.
    for (int g = 0; g < 2; ++g) {
        ClassConfig c = leaf(next_id, 1, mbit(15), mbit(40));
        REQUIRE(s.apply(AddClass{c}, 0).ok());
        groups.push_back(next_id++);
    }
    std::vector<uint32_t> leaves;
    for (int i = 0; i < 8; ++i) leaves.push_back(add_leaf(0));
    constexpr uint32_t kFlows = 32;
    FlowMap map;
    for (uint32_t f = 0; f < kFlows; ++f) map.class_of_flow[f] = leaves[rng() % leaves.size()];
    std::vector<uint32_t> seq(kFlows, 0);

    Packet out[64];
    uint64_t now = 0;
    uint64_t changes = 0, moved = 0;
    auto dequeue = [&] {
        const uint32_t n = s.dequeue_burst(out, 64, now);
        for (uint32_t k = 0; k < n; ++k) ledger.depart(out[k]);
    };
    for (int step = 0; step < 60'000; ++step) {
        now += 100'000 + rng() % 200'000;
        for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
            const uint32_t f = static_cast<uint32_t>(rng() % kFlows);
            ++ledger.offered;
            (void)s.enqueue(map.class_of_flow[f], Packet{handle_of(f, seq[f]++), 64 + static_cast<uint32_t>(rng() % 1'400),
                                                         static_cast<uint32_t>(f * 2654435761u)},
                            now);
        }
        dequeue();
        if (rng() % 300 == 0) {
            // A load, in sluiced's order: adds first; then the new
            // classification takes over, the packets of the classes it no
            // longer names having moved first; a few turns later the
            // removals, which must find those classes empty.
            ++changes;
            std::vector<uint32_t> doomed, kept;
            for (uint32_t id : leaves) (rng() % 3 == 0 ? doomed : kept).push_back(id);
            for (int k = static_cast<int>(1 + rng() % 3); k > 0; --k) kept.push_back(add_leaf(now));
            // A flow of a removed class goes anywhere in the new tree; the
            // others stay where they are (a flow that moves between two
            // kept classes is not a tree change).
            for (uint32_t f = 0; f < kFlows; ++f)
                if (std::find(doomed.begin(), doomed.end(), map.class_of_flow[f]) != doomed.end())
                    map.class_of_flow[f] = kept[rng() % kept.size()];
            const std::set<uint32_t> named(kept.begin(), kept.end());
            std::vector<uint32_t> queued;
            s.queued_classes(queued);
            for (uint32_t id : queued)
                if (!named.count(id)) moved += s.move_queued(id, &FlowMap::reclassify, &map, now);
            for (uint32_t id : doomed) CHECK(s.snapshot(id)->backlog_packets == 0);
            for (int turn = static_cast<int>(rng() % 4); turn > 0; --turn) {
                now += 20'000;
                for (uint32_t f = 0; f < kFlows; f += 3) {
                    ++ledger.offered;
                    (void)s.enqueue(map.class_of_flow[f], Packet{handle_of(f, seq[f]++), 1'000, f * 2654435761u}, now);
                }
                dequeue();
            }
            for (uint32_t id : doomed) REQUIRE(s.apply(RemoveClass{id, kept.front()}, now).ok());
            leaves = kept;
        }
        REQUIRE(ledger.offered == ledger.departed + ledger.dropped + s.backlog_packets());
    }
    for (int i = 0; i < 100'000 && s.backlog_packets() > 0; ++i) {
        now += ms(1);
        dequeue();
    }
    CHECK(s.backlog_packets() == 0);
    CHECK(ledger.offered == ledger.departed + ledger.dropped);
    CHECK(ledger.reordered == 0);
    CHECK(ledger.by_reason[DropReason::class_removed] == 0);
    CHECK(changes > 100);
    CHECK(moved > 1'000);  // the changes did find packets to move
    INFO("offered " << ledger.offered << ", departed " << ledger.departed << ", dropped " << ledger.dropped
                    << ", moved " << moved << " in " << changes << " changes");
    CHECK(ledger.departed > 40'000);
    CHECK(ledger.departed > ledger.dropped);
}
