// Rates on a shared CPU: the worker that owns the scheduler loses its CPU
// for a few milliseconds at a time (a busy neighbour, a VM's steal time), so
// the clock it passes jumps between turns. In virtual time: turns every 10
// microseconds with at most 32 packets each (the worker's tx burst), broken
// by random gaps of up to 5 ms, about half of the time in all. Every class
// must still get its rate within 1%, and the credit that makes up for a gap
// must never let a class beyond rate x (T + horizon) in any window T (or
// rate x T + burst, where its burst is the larger).
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

constexpr uint64_t kTurn = 10'000;     // ticks between the worker's turns
constexpr uint32_t kPerTurn = 32;      // packets one turn may send
constexpr uint64_t kWarmUp = sec(1);
constexpr uint64_t kWindow = sec(10);

struct Flow {
    uint32_t class_id;
    uint32_t length;
    uint64_t rate;  // the class's configured rate: what it must get
    uint64_t ceil;  // what it may never exceed
};

// A link of 100 Mbit/s, link-limited: the leaves' rates fill it, and two of
// them would borrow more. Under it an office (60 Mbit/s) with a priority-0
// voice class of small packets, video and bulk; a guest class beside it.
std::vector<ClassConfig> tree() {
    return {leaf(1, kNoParent, mbit(100)),
            leaf(2, 1, mbit(60), mbit(60)),
            leaf(10, 2, mbit(4), mbit(4), 0),
            leaf(11, 2, mbit(16), mbit(16), 1),
            leaf(12, 2, mbit(40), mbit(60), 2),
            leaf(3, 1, mbit(40), mbit(100), 1)};
}

const std::vector<Flow> kFlows{{10, 200, mbit(4), mbit(4)},
                               {11, 1'200, mbit(16), mbit(16)},
                               {12, 1'500, mbit(40), mbit(60)},
                               {3, 1'500, mbit(40), mbit(100)}};

// The worker's clock: runs of turns 10 us apart, each run from 0.1 to 5 ms
// long, then a gap of up to `max_gap` (uniform): with 5 ms, the CPU is
// shared about half and half.
struct SharedCpu {
    std::mt19937_64 rng;
    uint64_t max_gap;
    uint64_t run_left = 0;

    uint64_t operator()(uint64_t) {
        if (max_gap == 0 || run_left >= kTurn) {
            run_left -= std::min(run_left, kTurn);
            return kTurn;
        }
        run_left = std::uniform_int_distribution<uint64_t>(ms(0.1), ms(5))(rng);
        return std::uniform_int_distribution<uint64_t>(kTurn, max_gap)(rng);
    }
};

struct Result {
    std::vector<double> rates;           // per flow, frame bytes per second
    std::vector<uint64_t> p99;           // per flow, queueing delay, ticks
    std::vector<std::vector<std::pair<uint64_t, uint32_t>>> departures;
    uint64_t drops = 0;
    uint64_t horizon = 0;                // ticks
};

// `voice_rate`: the priority-0 class gets a paced flow at that rate
// instead of a saturating one.
Result run(uint64_t seed, uint64_t max_gap, uint32_t catch_up_us, double voice_rate = 0) {
    SchedulerConfig cfg;
    cfg.tick_hz = kHz;
    cfg.catch_up_us = catch_up_us;
    Scheduler s(cfg);
    for (const ClassConfig& c : tree()) {
        const Status st = s.apply(AddClass{c}, 0);
        INFO(st.error());
        REQUIRE(st.ok());
    }
    VirtualTraffic traffic(s);
    for (const Flow& f : kFlows) {
        Source src;
        src.class_id = f.class_id;
        src.length = f.length;
        // Enough waiting to fill a gap's worth of catching up.
        src.keep_queued = 200;
        src.record_departures = true;
        if (f.class_id == 10 && voice_rate > 0) {
            src.kind = Source::Kind::paced;
            src.rate = voice_rate;
        }
        traffic.add(src);
    }
    traffic.run_turns(kWarmUp + kWindow, kPerTurn, SharedCpu{std::mt19937_64(seed), max_gap}, kWarmUp,
                      kWarmUp + kWindow);
    Result r;
    r.horizon = uint64_t{catch_up_us} * 1'000;
    r.drops = traffic.drops();
    for (size_t i = 0; i < kFlows.size(); ++i) {
        r.rates.push_back(traffic.source(i).window_rate(kWindow));
        r.p99.push_back(traffic.source(i).delay_quantile(0.99));
        r.departures.push_back(traffic.source(i).departures);
    }
    return r;
}

// The most frame bytes that departed within any closed window of T ticks.
uint64_t most_in_window(const std::vector<std::pair<uint64_t, uint32_t>>& d, uint64_t t) {
    uint64_t best = 0, sum = 0;
    size_t i = 0;
    for (size_t j = 0; j < d.size(); ++j) {
        sum += d[j].second;
        while (d[j].first - d[i].first > t) sum -= d[i++].second;
        best = std::max(best, sum);
    }
    return best;
}

// At the ceil (the rate, for a class that does not borrow): ceil x T plus
// what a full bucket holds, the larger of the burst (1 ms at the ceil and an
// MTU, by default) and ceil x horizon, plus the one packet that may take a
// bucket below zero.
// The same for the office (classes 10, 11, 12) and the link (all), whose
// children's rates fill them: what they send at once is bounded by their
// own buckets, plus a packet from each child.
void check_bound(const Result& r, const std::vector<uint64_t>& windows) {
    const SchedulerConfig defaults;
    struct Group {
        uint32_t id;
        uint64_t ceil;
        std::vector<size_t> flows;
    };
    std::vector<Group> groups;
    for (size_t i = 0; i < kFlows.size(); ++i) groups.push_back({kFlows[i].class_id, kFlows[i].ceil, {i}});
    groups.push_back({2, mbit(60), {0, 1, 2}});
    groups.push_back({1, mbit(100), {0, 1, 2, 3}});
    for (const Group& g : groups) {
        std::vector<std::pair<uint64_t, uint32_t>> d;
        double packets = 0;
        for (const size_t i : g.flows) {
            d.insert(d.end(), r.departures[i].begin(), r.departures[i].end());
            packets += kFlows[i].length;
        }
        std::stable_sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const uint64_t t : windows) {
            const auto ceil = static_cast<double>(g.ceil);
            const double burst = ceil * defaults.default_burst_us / 1e6 + defaults.mtu;
            const double bound = ceil * static_cast<double>(t) / 1e9 +
                                 std::max(burst, ceil * static_cast<double>(r.horizon) / 1e9) + packets;
            const uint64_t got = most_in_window(d, t);
            INFO("class " << g.id << ", window " << t / 1e6 << " ms: " << got << " bytes, bound " << bound);
            CHECK(static_cast<double>(got) <= bound);
        }
    }
}

const std::vector<uint64_t> kWindows{ms(0.1), ms(1), ms(2), ms(5), ms(10), ms(20), ms(50), ms(100), sec(1)};

}  // namespace

TEST_CASE("with the worker's CPU shared half and half, every class still gets its rate within 1%",
          "[shaper][clock]") {
    const uint64_t seed = GENERATE(1, 2, 3);
    INFO("seed " << seed);
    const Result r = run(seed, ms(5), SchedulerConfig{}.catch_up_us);
    for (size_t i = 0; i < kFlows.size(); ++i) {
        INFO("class " << kFlows[i].class_id << ": got " << r.rates[i] * 8 / 1e6 << " Mbit/s, configured "
                      << kFlows[i].rate * 8 / 1e6 << " Mbit/s");
        CHECK(r.rates[i] == Approx(static_cast<double>(kFlows[i].rate)).epsilon(0.01));
    }
    CHECK(r.drops == 0);
}

TEST_CASE("making up for gaps never lets a class beyond rate x (T + horizon), or rate x T + burst, in any window T",
          "[shaper][clock]") {
    const uint32_t horizon_us = SchedulerConfig{}.catch_up_us;
    SECTION("gaps within the horizon") {
        check_bound(run(4, ms(5), horizon_us), kWindows);
    }
    SECTION("gaps of up to four horizons: the credit beyond one horizon is lost") {
        const Result r = run(5, 4 * uint64_t{horizon_us} * 1'000, horizon_us);
        check_bound(r, kWindows);
        for (size_t i = 0; i < kFlows.size(); ++i) CHECK(r.rates[i] < static_cast<double>(kFlows[i].rate) * 1.01);
    }
    SECTION("a shorter horizon") {
        check_bound(run(6, ms(5), 2'000), kWindows);
    }
}

TEST_CASE("without gaps, making up for them changes nothing: the same packets leave at the same ticks",
          "[shaper][clock]") {
    const Result with = run(7, 0, SchedulerConfig{}.catch_up_us);
    const Result without = run(7, 0, 0);
    for (size_t i = 0; i < kFlows.size(); ++i) {
        INFO("class " << kFlows[i].class_id);
        CHECK(with.departures[i] == without.departures[i]);
        CHECK(with.rates[i] == Approx(static_cast<double>(kFlows[i].rate)).epsilon(0.01));
    }
}

TEST_CASE("a priority-0 class waits out a gap but not the catching up after it", "[shaper][clock]") {
    // A 1 Mbit/s flow in the 4 Mbit/s priority-0 class, the others saturating.
    const Result shared = run(8, ms(5), SchedulerConfig{}.catch_up_us, mbit(1));
    const Result idle = run(8, 0, SchedulerConfig{}.catch_up_us, mbit(1));
    INFO("p99 delay " << shared.p99[0] / 1e6 << " ms with gaps of up to 5 ms, " << idle.p99[0] / 1e6
                      << " ms without");
    CHECK(idle.p99[0] <= kTurn);
    // The longest gap and the turn that serves it, never more.
    CHECK(shared.p99[0] <= ms(5) + kTurn);
    CHECK(shared.rates[0] == Approx(static_cast<double>(mbit(1))).epsilon(0.01));
    // Bulk borrows the 3 Mbit/s voice leaves in the office, up to its ceil.
    const std::vector<uint64_t> others{mbit(16), mbit(43), mbit(40)};
    for (size_t i = 1; i < kFlows.size(); ++i) {
        INFO("class " << kFlows[i].class_id);
        CHECK(shared.rates[i] == Approx(static_cast<double>(others[i - 1])).epsilon(0.01));
    }
}

TEST_CASE("a rate change applied on the turn that ends a gap keeps what the gap is owed", "[shaper][clock]") {
    // A worker's copy of the link root (rebalanced: its rate changes every
    // few periods) and a leaf that borrows all of it. The worker loses its
    // CPU for 5 ms; the turn that ends the gap first applies a change the
    // rebalancer posted meanwhile, then sends. It must send what the gap
    // held back, as it does when the same change came before the gap.
    const uint64_t gap_at = ms(100), gap = ms(5);
    auto sent_after_gap = [&](bool change_after_gap) {
        SchedulerConfig cfg;
        cfg.tick_hz = kHz;
        Scheduler s(cfg);
        REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(90))}, 0).ok());
        REQUIRE(s.apply(AddClass{leaf(2, 1, mbit(5), mbit(100))}, 0).ok());
        VirtualTraffic traffic(s);
        Source src;
        src.class_id = 2;
        src.length = 1'500;
        src.keep_queued = 200;
        traffic.add(src);
        const auto turns = [](uint64_t) { return kTurn; };
        const uint64_t end = gap_at + gap + ms(20);
        traffic.run_turns(gap_at, kPerTurn, turns, gap_at, end);
        ModifyClass m;
        m.id = 1;
        m.rate = mbit(88);
        if (!change_after_gap) REQUIRE(s.apply(m, gap_at).ok());
        bool gapped = false;
        const auto one_gap = [&](uint64_t) {
            if (gapped) return kTurn;
            gapped = true;
            if (change_after_gap) REQUIRE(s.apply(m, gap_at + gap).ok());
            return gap;
        };
        traffic.run_turns(end, kPerTurn, one_gap, gap_at, end);
        return traffic.source(0).window_bytes;
    };
    const uint64_t before = sent_after_gap(false), after = sent_after_gap(true);
    INFO("change before the gap: " << before << " bytes in the 25 ms from its start; after: " << after);
    CHECK(before >= mbit(88) * 24 / 1000);  // the gap was made up
    CHECK(after + 2 * 1'500 >= before);
}
