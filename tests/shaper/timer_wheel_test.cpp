// The timer wheel against a reference map: never early, late by at most a
// granule plus 8/254 of the wait, whatever the spread of due times and the
// clock's jumps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "shaper/timer_wheel.hpp"

using sluice::shaper::TimerWheel;

TEST_CASE("timers fire never early and at most a granule plus 3% of their wait late, across clock jumps",
          "[shaper][timer]") {
    constexpr int kShift = 4;  // 16-tick granules
    TimerWheel w(kShift);
    constexpr uint32_t kTimers = 2'000;
    w.resize(kTimers);
    std::mt19937_64 rng(11);
    struct Armed {
        uint64_t due;
        uint64_t at;  // when it was armed
    };
    std::map<uint32_t, Armed> armed;
    uint64_t now = 0;
    uint64_t late_beyond_granule = 0;  // the most seen, in ticks
    auto arm = [&](uint32_t id) {
        // Due times from a few ticks to beyond the wheel's reach (255 x 8^7
        // granules), where timers are parked and placed again.
        const int scale = static_cast<int>(rng() % 46);
        const uint64_t due = now + 1 + (rng() & ((uint64_t{1} << scale) - 1));
        w.schedule(id, due);
        armed[id] = {due, now};
    };
    for (uint32_t id = 0; id < kTimers; ++id) arm(id);
    uint64_t fired = 0;
    for (int step = 0; step < 200'000 && !armed.empty(); ++step) {
        const int jump = static_cast<int>(rng() % 40);
        now += 1 + (rng() & ((uint64_t{1} << jump) - 1));
        w.advance(now, [&](uint32_t id) {
            REQUIRE(armed.count(id));
            REQUIRE(armed[id].due <= now);
            armed.erase(id);
            ++fired;
            if (rng() % 2) arm(id);  // re-arm from inside the callback
        });
        for (const auto& [id, a] : armed) {
            // Whatever is still armed is not overdue by more than a granule
            // and 8/254 of its wait (a timer on level k waited 254 slots of
            // level k-1 at least, and is rounded up to a slot of level k).
            constexpr uint64_t kGranule = uint64_t{1} << kShift;
            const uint64_t allowed = kGranule + (a.due - a.at + kGranule) * 8 / 254;
            INFO("timer " << id << " armed at " << a.at << " due at " << a.due << ", now " << now);
            REQUIRE(a.due + allowed > now);
            if (now > a.due + kGranule) late_beyond_granule = std::max(late_beyond_granule, now - a.due);
        }
        if (step % 7 == 0 && !armed.empty()) {  // cancel one
            const uint32_t id = armed.begin()->first;
            w.cancel(id);
            armed.erase(id);
        }
    }
    CHECK(fired > kTimers);
    // Far timers are rounded, so some are seen late: the bound above is met
    // by a wheel that rounds, not only by one that never does.
    CHECK(late_beyond_granule > 0);
}

TEST_CASE("next_bound is the tick at which the next timer fires", "[shaper][timer]") {
    TimerWheel w(0);
    w.resize(3);
    CHECK(!w.next_bound());
    w.schedule(0, 5'000);  // rounded up to a level-2 slot boundary (64 granules)
    w.schedule(1, 70);     // exact, on level 0
    REQUIRE(w.next_bound());
    CHECK(*w.next_bound() == 70);
    int n = 0;
    w.advance(69, [&](uint32_t) { ++n; });
    CHECK(n == 0);
    w.advance(70, [&](uint32_t id) { CHECK(id == 1); ++n; });
    CHECK(n == 1);
    const uint64_t bound = *w.next_bound();
    CHECK(bound >= 5'000);
    CHECK(bound <= 5'000 + 5'000 * 8 / 254);
    w.advance(bound - 1, [&](uint32_t) { ++n; });
    CHECK(n == 1);
    w.advance(bound, [&](uint32_t id) { CHECK(id == 0); ++n; });
    CHECK(n == 2);
    CHECK(!w.next_bound());
}

TEST_CASE("a timer on a higher level that comes due before a newer one on level 0 is the next bound",
          "[shaper][timer]") {
    TimerWheel w(0);
    w.resize(2);
    w.schedule(0, 1'000);  // level 1 (8-granule slots) at 0
    w.advance(900, [](uint32_t) {});
    w.schedule(1, 1'100);  // level 0 at 900
    REQUIRE(w.next_bound());
    CHECK(*w.next_bound() == 1'000);
}

TEST_CASE("timers armed and cancelled far faster than their slots come round keep one entry each and fire once",
          "[shaper][timer]") {
    // A class that flips between sending and waiting re-arms or cancels its
    // timer on nearly every packet, long before the timer's slot is
    // reached: the wheel must hold one entry per armed timer, and fire each
    // once, at its last due time.
    TimerWheel w(0);
    constexpr uint32_t kTimers = 100;
    w.resize(kTimers);
    std::mt19937_64 rng(5);
    std::vector<uint64_t> due(kTimers, 0);
    std::vector<bool> armed(kTimers, false);
    size_t most = 0;
    for (int round = 0; round < 10'000; ++round) {
        for (uint32_t id = 0; id < kTimers; ++id) {
            // Due far ahead (upper levels); cancelled a third of the time.
            if (rng() % 3 == 0) {
                w.cancel(id);
                armed[id] = false;
            } else {
                due[id] = 1'000'000 + rng() % 1'000'000'000;
                w.schedule(id, due[id]);
                armed[id] = true;
            }
            REQUIRE(w.scheduled(id) == armed[id]);
        }
        most = std::max(most, w.armed());
    }
    CHECK(most <= kTimers);
    std::vector<int> fired(kTimers, 0);
    uint64_t now = 0;
    while (now < 2'000'000'000) {
        now += 1 + rng() % 50'000'000;
        w.advance(now, [&](uint32_t id) {
            REQUIRE(armed[id]);
            REQUIRE(due[id] <= now);
            ++fired[id];
        });
    }
    for (uint32_t id = 0; id < kTimers; ++id) {
        INFO("timer " << id << " due at " << due[id]);
        CHECK(fired[id] == (armed[id] ? 1 : 0));
    }
    CHECK(w.armed() == 0);
    CHECK(!w.next_bound());
}
