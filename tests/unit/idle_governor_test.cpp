// The idle governor's states: a worker polls while it has traffic or holds
// packets, spins through short gaps, then sleeps in growing steps up to the
// cap, and is back to polling on the first packet.
#include "dataplane/idle_governor.hpp"

#include <catch2/catch.hpp>

#include <vector>

using sluice::dataplane::IdleGovernor;
using State = IdleGovernor::State;

namespace {

// One cycle per nanosecond keeps the arithmetic readable.
IdleGovernor::Settings settings() {
    IdleGovernor::Settings s;
    s.enabled = true;
    s.spin_cycles = 1000;
    s.first_sleep_ns = 10;
    s.max_sleep_ns = 100;
    return s;
}

// Empty turns from `now` on, `step` cycles apart (plus each sleep), until
// `n` sleeps were asked for; returns their lengths.
std::vector<uint64_t> sleeps_while_idle(IdleGovernor& g, uint64_t& now, uint64_t step, size_t n) {
    std::vector<uint64_t> got;
    for (int turn = 0; got.size() < n && turn < 100000; ++turn) {
        const uint64_t ns = g.on_empty_turn(now, false);
        if (ns != 0) got.push_back(ns);
        now += step + ns;
    }
    return got;
}

}  // namespace

TEST_CASE("an idle worker spins first, then sleeps longer each time up to the cap") {
    IdleGovernor g(settings());
    uint64_t now = 5000;
    CHECK(g.state() == State::polling);
    // Empty turns within the spin time ask for no sleep.
    for (uint64_t t = 0; t < 1000; t += 100) {
        CHECK(g.on_empty_turn(now + t, false) == 0);
        CHECK(g.state() == State::spinning);
    }
    now += 1000;
    CHECK(g.sleeps() == 0);
    const auto got = sleeps_while_idle(g, now, 1, 7);
    CHECK(g.state() == State::sleeping);
    CHECK(got == std::vector<uint64_t>{10, 20, 40, 80, 100, 100, 100});
    CHECK(g.sleeps() == 7);
    CHECK(g.slept_ns() == 450);
}

TEST_CASE("the first packet puts a sleeping worker back to polling, and it spins again before sleeping") {
    IdleGovernor g(settings());
    uint64_t now = 0;
    sleeps_while_idle(g, now, 50, 6);
    REQUIRE(g.state() == State::sleeping);
    g.on_traffic();
    CHECK(g.state() == State::polling);
    // The next quiet spell starts from the beginning: spin, then the shortest sleep.
    CHECK(g.on_empty_turn(now, false) == 0);
    CHECK(g.state() == State::spinning);
    CHECK(g.on_empty_turn(now + 999, false) == 0);
    CHECK(g.on_empty_turn(now + 1000, false) == 10);
}

TEST_CASE("a worker holding packets never sleeps") {
    IdleGovernor g(settings());
    uint64_t now = 0;
    // A scheduler backlog waiting for tokens: empty turns, for a long time.
    for (int i = 0; i < 1000; ++i, now += 100) {
        CHECK(g.on_empty_turn(now, true) == 0);
        CHECK(g.state() == State::polling);
    }
    // Even a sleeping worker that finds it holds packets stops sleeping,
    // and needs a whole spin time of idle turns again before the next sleep.
    sleeps_while_idle(g, now, 10, 5);
    REQUIRE(g.state() == State::sleeping);
    CHECK(g.on_empty_turn(now, true) == 0);
    CHECK(g.state() == State::polling);
    CHECK(g.on_empty_turn(now + 1, false) == 0);
    CHECK(g.on_empty_turn(now + 500, false) == 0);
    CHECK(g.on_empty_turn(now + 1001, false) == 10);
}

TEST_CASE("with sleeping off the worker always polls") {
    auto s = settings();
    s.enabled = false;
    IdleGovernor g(s);
    for (uint64_t now = 0; now < 1'000'000; now += 100) REQUIRE(g.on_empty_turn(now, false) == 0);
    CHECK(g.sleeps() == 0);
    CHECK(g.state() == State::polling);
}

TEST_CASE("a first sleep longer than the cap is cut to the cap") {
    auto s = settings();
    s.first_sleep_ns = 500;
    IdleGovernor g(s);
    uint64_t now = 0;
    CHECK(sleeps_while_idle(g, now, 1, 3) == std::vector<uint64_t>{100, 100, 100});
}
