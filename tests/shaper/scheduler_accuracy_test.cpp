// Throughput accuracy: a table of scenarios, each run for 10 virtual seconds
// (after one second of warm-up, unless the scenario is about the start) and
// checked per class against the analytically expected rate within 1%.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

struct Flow {
    uint32_t class_id;
    uint32_t length;
    double expected;  // frame bytes per second
};

struct Scenario {
    std::string name;
    std::vector<ClassConfig> classes;
    std::vector<Flow> flows;  // saturating sources
    OverheadModel overhead{};
    uint64_t warm_up = sec(1);
};

ClassConfig root(uint64_t rate) { return leaf(1, kNoParent, rate); }

ClassConfig with_burst(ClassConfig c, uint32_t burst) {
    c.burst = burst;
    c.cburst = burst;
    return c;
}

std::vector<Scenario> scenarios() {
    std::vector<Scenario> t;
    // One class, from 64 kbit/s to 100 Gbit/s; packet sizes keep the packet
    // count per run between about a thousand and a few million.
    struct One { const char* name; uint64_t rate; uint32_t len; };
    for (const One& o : {One{"64 kbit/s", kbit(64), 100}, One{"1 Mbit/s", mbit(1), 500},
                         One{"100 Mbit/s", mbit(100), 1500}, One{"10 Gbit/s", gbit(10), 9000},
                         One{"100 Gbit/s", gbit(100), 64000}}) {
        t.push_back({std::string("one class at ") + o.name + " sends at its rate",
                     {root(o.rate), leaf(10, 1, o.rate)},
                     {{10, o.len, static_cast<double>(o.rate)}}});
    }
    t.push_back({"siblings share the excess by weight (1:3)",
                 {root(mbit(10)), leaf(10, 1, mbit(1), mbit(10), 0, 1), leaf(11, 1, mbit(1), mbit(10), 0, 3)},
                 {{10, 1500, mbit(3)}, {11, 1500, mbit(7)}}});
    t.push_back({"a borrowing class stops at its ceil and the rest goes to its sibling",
                 {root(mbit(10)), leaf(10, 1, mbit(2), mbit(4)), leaf(11, 1, mbit(2), mbit(10))},
                 {{10, 1500, mbit(4)}, {11, 1500, mbit(6)}}});
    t.push_back({"a lone class borrows up to its ceil and never beyond",
                 {root(mbit(10)), leaf(10, 1, mbit(1), mbit(3))},
                 {{10, 1500, mbit(3)}}});
    t.push_back({"a priority-0 class is served first up to its ceil",
                 {root(mbit(10)), leaf(10, 1, mbit(1), mbit(6), 0), leaf(11, 1, mbit(1), mbit(10), 1)},
                 {{10, 1500, mbit(6)}, {11, 1500, mbit(4)}}});
    t.push_back({"an idle class lends its rate to busy siblings",
                 {root(mbit(10)), leaf(10, 1, mbit(3), mbit(10)), leaf(11, 1, mbit(3), mbit(10)),
                  leaf(12, 1, mbit(4), mbit(10))},
                 {{10, 1500, mbit(5)}, {11, 1500, mbit(5)}}});
    t.push_back({"borrowing inside a subtree stops at the subtree's ceil",
                 {root(mbit(10)), leaf(2, 1, mbit(6), mbit(10)), leaf(3, 1, mbit(4), mbit(4)),
                  leaf(20, 2, mbit(3), mbit(10)), leaf(21, 2, mbit(3), mbit(10)),
                  leaf(30, 3, mbit(2), mbit(10)), leaf(31, 3, mbit(2), mbit(10))},
                 {{20, 1500, mbit(3)}, {21, 1500, mbit(3)}, {30, 1500, mbit(4)}}});
    {
        // 20 levels: a chain root -> 2 -> ... -> 20 -> leaf 100 at depth 20,
        // with a tight ceil half-way; a shallow sibling takes the rest.
        Scenario s{"a leaf 20 levels deep is held to its tightest ancestor's ceil", {root(mbit(10))}, {}};
        for (uint32_t id = 2; id <= 20; ++id)
            s.classes.push_back(leaf(id, id - 1, mbit(1), id == 9 ? mbit(3) : mbit(10)));
        s.classes.push_back(leaf(100, 20, mbit(1), mbit(10)));
        s.classes.push_back(leaf(101, 1, mbit(1), mbit(10)));
        s.flows = {{100, 1500, mbit(3)}, {101, 1500, mbit(7)}};
        t.push_back(s);
    }
    t.push_back({"a burst is honoured once and then the class keeps its rate",
                 {root(mbit(100)), with_burst(leaf(10, 1, mbit(1), mbit(1)), 500'000)},
                 {{10, 1500, (mbit(1) * 10.0 + 500'000) / 10}},
                 {},
                 0});
    {
        Scenario s{"Ethernet framing is charged: 100-byte frames cost 124 bytes",
                   {root(mbit(10)), leaf(10, 1, mbit(10))},
                   {{10, 100, mbit(10) * 100.0 / 124}}};
        s.overhead = *overhead_preset("ethernet");
        t.push_back(s);
    }
    {
        // 200 - 14 + 10 = 196 bytes of AAL5 payload: 5 cells, 265 bytes.
        Scenario s{"ATM cells are charged: a 200-byte frame costs 5 cells",
                   {root(mbit(10)), leaf(10, 1, mbit(10))},
                   {{10, 200, mbit(10) * 200.0 / 265}}};
        s.overhead = *overhead_preset("pppoa-vcmux");
        t.push_back(s);
    }
    return t;
}

}  // namespace

TEST_CASE("each scenario's classes get the analytical throughput within 1% over 10 virtual seconds",
          "[shaper][accuracy]") {
    for (const Scenario& sc : scenarios()) {
        SECTION(sc.name) {
            SchedulerConfig cfg;
            cfg.tick_hz = kHz;
            cfg.overhead = sc.overhead;
            Scheduler s(cfg);
            for (const ClassConfig& c : sc.classes) {
                const Status st = s.apply(AddClass{c}, 0);
                INFO(st.error());
                REQUIRE(st.ok());
            }
            VirtualTraffic traffic(s);
            for (const Flow& f : sc.flows) {
                Source src;
                src.class_id = f.class_id;
                src.length = f.length;
                src.keep_queued = f.length >= 9000 ? 256 : 64;
                traffic.add(src);
            }
            const uint64_t window = sec(10);
            traffic.run(sc.warm_up + window, sc.warm_up, sc.warm_up + window);
            for (size_t i = 0; i < sc.flows.size(); ++i) {
                const double got = traffic.source(i).window_rate(window);
                INFO("class " << sc.flows[i].class_id << ": got " << got * 8 / 1e6 << " Mbit/s, expected "
                              << sc.flows[i].expected * 8 / 1e6 << " Mbit/s");
                CHECK(got == Approx(sc.flows[i].expected).epsilon(0.01));
            }
            CHECK(traffic.drops() == 0);
        }
    }
}
