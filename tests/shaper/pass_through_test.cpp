// The scheduler's pass: a packet it would send at once leaves at once
// (enqueue_or_pass_burst), and nothing else changes.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

Scheduler make(std::initializer_list<ClassConfig> classes) {
    // The clock jumps by milliseconds here with packets queued: no catch-up.
    SchedulerConfig cfg;
    cfg.catch_up_us = 0;
    return scheduler_with(classes, cfg);
}

// Offers one packet of `cls`; returns whether it passed (left at once).
bool offer(Scheduler& s, uint32_t cls, uint64_t handle, uint64_t now, uint32_t length = 1'000) {
    const Packet p{handle, length, static_cast<uint32_t>(handle)};
    Packet leave[1];
    const uint32_t n = s.enqueue_or_pass_burst(&cls, &p, 1, now, leave);
    if (n == 1) REQUIRE(leave[0].handle == handle);
    return n == 1;
}

}  // namespace

TEST_CASE("an idle scheduler lets a packet whose class has tokens leave at once, counted as sent with no delay",
          "[shaper][pass]") {
    Scheduler s = make({leaf(1, kNoParent, mbit(100)), leaf(2, 1, mbit(10), mbit(100))});
    CHECK(offer(s, 2, 7, ms(1)));
    CHECK(s.backlog_packets() == 0);
    Packet out[4];
    CHECK(s.dequeue_burst(out, 4, ms(1)) == 0);
    const auto leaf_stats = s.snapshot(2);
    CHECK(leaf_stats->counters.packets == 1);
    CHECK(leaf_stats->counters.bytes == 1'000);
    CHECK(leaf_stats->delay_samples == 1);
    CHECK(leaf_stats->delay_p99_ns < 1'000);  // the histogram's first bucket: no wait
    CHECK(s.snapshot(1)->counters.packets == 1);  // the root sums its subtree
}

TEST_CASE("a class out of tokens queues, and none of its packets passes while it has a queue", "[shaper][pass]") {
    ClassConfig slow = leaf(2, 1, mbit(8), mbit(8));  // 1 byte per microsecond
    slow.burst = 2'500;
    slow.cburst = 2'500;
    Scheduler s = make({leaf(1, kNoParent, mbit(100)), slow});
    // At one instant: the bucket lets three 1,000-byte packets through (the
    // third into debt), the rest queue.
    std::vector<bool> passed;
    for (uint64_t h = 1; h <= 6; ++h) passed.push_back(offer(s, 2, h, ms(1)));
    CHECK(passed == std::vector<bool>{true, true, true, false, false, false});
    CHECK(s.backlog_packets() == 3);
    // Much later, tokens are back, but the queue is still there (nobody
    // dequeued): a new packet must wait behind it.
    CHECK_FALSE(offer(s, 2, 7, ms(50)));
    Packet out[8];
    const uint32_t n = s.dequeue_burst(out, 8, ms(50));
    REQUIRE(n == 3);  // the bucket's worth, in arrival order
    CHECK(out[0].handle == 4);
    CHECK(out[1].handle == 5);
    CHECK(out[2].handle == 6);
    CHECK(s.dequeue_burst(out, 8, ms(100)) == 1);
    CHECK(out[0].handle == 7);
    CHECK(offer(s, 2, 8, ms(100)));  // empty again, with tokens: passes
}

TEST_CASE("nothing passes while another class has packets it may send", "[shaper][pass]") {
    Scheduler s = make({leaf(1, kNoParent, mbit(100)), leaf(2, 1, mbit(10), mbit(100)), leaf(3, 1, mbit(10), mbit(100))});
    const uint32_t cls = 2;
    const Packet waiting{1, 1'000, 0};
    REQUIRE(s.enqueue_burst(&cls, &waiting, 1, ms(1)) == 1);
    CHECK_FALSE(offer(s, 3, 2, ms(1)));  // class 2 goes first, as dequeue would have it
    Packet out[4];
    REQUIRE(s.dequeue_burst(out, 4, ms(1)) == 2);
    CHECK(out[0].handle == 1);
    CHECK(offer(s, 3, 3, ms(1)));
}

TEST_CASE("CoDel and fq_codel leaves never pass: their AQM judges every packet at dequeue", "[shaper][pass]") {
    Scheduler s = make({leaf(1, kNoParent, mbit(100)), leaf(2, 1, mbit(10), mbit(100), 0, 1, LeafKind::codel),
                        leaf(3, 1, mbit(10), mbit(100), 0, 1, LeafKind::fq_codel)});
    CHECK_FALSE(offer(s, 2, 1, ms(1)));
    CHECK_FALSE(offer(s, 3, 2, ms(1)));
    CHECK(s.needs_flow_hash());
    Packet out[4];
    CHECK(s.dequeue_burst(out, 4, ms(1)) == 2);
}

TEST_CASE("a leaf out of its own tokens passes on its parent's, counted as borrowed, until both run out",
          "[shaper][pass]") {
    ClassConfig root = leaf(1, kNoParent, mbit(8), mbit(8));
    root.burst = root.cburst = 20'000;
    ClassConfig child = leaf(2, 1, mbit(1), mbit(8));
    child.cburst = 20'000;
    Scheduler s = make({root, child});
    uint32_t passed = 0;
    while (passed < 100 && offer(s, 2, passed + 1, ms(1))) ++passed;
    // Its own burst is one MTU or so; the rest of the root's 20,000 bytes it borrowed.
    CHECK(passed >= 15);
    CHECK(passed <= 21);
    CHECK(s.snapshot(2)->counters.borrowed >= passed - 2);
    CHECK(s.backlog_packets() == 1);  // the one refused waits for tokens
}

// The pass must not change what a loaded link delivers: the same tree and
// arrivals, run once with every packet queued and once with passes, give
// every class the same bytes within a fraction of a percent.
TEST_CASE("with and without passes, a random tree under random load delivers the same per class", "[shaper][pass]") {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
        std::mt19937 rng(seed);
        std::vector<ClassConfig> tree{leaf(1, kNoParent, mbit(100), mbit(100))};
        tree.push_back(leaf(2, 1, mbit(60), mbit(100), 0, 1 + rng() % 3));
        tree.push_back(leaf(3, 1, mbit(40), mbit(100), 1, 1 + rng() % 3));
        std::vector<uint32_t> leaves;
        for (uint32_t id = 10; id < 18; ++id) {
            const uint32_t parent = id < 14 ? 2 : 3;
            const uint64_t rate = mbit(2 + rng() % 8);
            const uint64_t ceil = rng() % 2 ? mbit(100) : rate * 2;
            tree.push_back(leaf(id, parent, rate, ceil, static_cast<uint8_t>(rng() % 3), 1 + rng() % 4));
            leaves.push_back(id);
        }
        // Offered load per leaf: from a tenth of its rate to three times it,
        // 130 Mbit/s in all or so: the link saturates now and then.
        std::vector<double> load;
        for (size_t i = 0; i < leaves.size(); ++i) load.push_back(mbit(1 + rng() % 30));

        std::map<uint32_t, uint64_t> bytes[2];
        for (int pass = 0; pass < 2; ++pass) {
            SchedulerConfig cfg;
            cfg.tick_hz = kHz;
            Scheduler s(cfg);
            for (const auto& c : tree) REQUIRE(s.apply(AddClass{c}, 0).ok());
            std::mt19937 arrivals(seed * 100);
            std::vector<double> next(leaves.size(), 0);
            Packet out[64], leave[64], in[64];
            uint32_t ids[64];
            const uint64_t step = 20'000, end = sec(4);
            for (uint64_t now = step; now <= end; now += step) {
                // As a worker's turn goes: what may leave, then what came.
                for (uint32_t n; (n = s.dequeue_burst(out, 64, now)) != 0;)
                    for (uint32_t k = 0; k < n; ++k) bytes[pass][static_cast<uint32_t>(out[k].handle >> 32)] += out[k].length;
                uint32_t m = 0;
                for (size_t i = 0; i < leaves.size(); ++i) {
                    while (next[i] <= static_cast<double>(now) && m < 64) {
                        const uint32_t len = 100 + arrivals() % 1'400;
                        in[m] = Packet{(uint64_t{leaves[i]} << 32) | m, len, 0};
                        ids[m++] = leaves[i];
                        next[i] += len * 1e9 / load[i];
                    }
                }
                if (pass == 0) {
                    s.enqueue_burst(ids, in, m, now);
                } else {
                    const uint32_t n = s.enqueue_or_pass_burst(ids, in, m, now, leave);
                    for (uint32_t k = 0; k < n; ++k) bytes[pass][static_cast<uint32_t>(leave[k].handle >> 32)] += leave[k].length;
                }
            }
        }
        uint64_t total = 0;
        for (uint32_t id : leaves) {
            INFO("seed " << seed << " class " << id << ": " << bytes[0][id] << " bytes queued, " << bytes[1][id]
                         << " with passes");
            REQUIRE(bytes[0][id] > 0);
            CHECK(std::abs(static_cast<double>(bytes[1][id]) / static_cast<double>(bytes[0][id]) - 1) < 0.01);
            total += bytes[1][id];
        }
        // Never more than the link (plus its bursts).
        CHECK(static_cast<double>(total) <= mbit(100) * 4.0 * 1.005);
    }
}
