// The timer wheel against a sorted reference: never early, at most one
// granule late, whatever the spread of due times and the clock's jumps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "shaper/timer_wheel.hpp"

using sluice::shaper::TimerWheel;

TEST_CASE("timers fire in due order, never early and at most one granule late, across clock jumps",
          "[shaper][timer]") {
    constexpr int kShift = 4;  // 16-tick granules
    TimerWheel w(kShift);
    constexpr uint32_t kTimers = 2'000;
    w.resize(kTimers);
    std::mt19937_64 rng(11);
    std::map<uint32_t, uint64_t> armed;
    uint64_t now = 0;
    auto arm = [&](uint32_t id) {
        // Due times from a few ticks to beyond the wheel's 2^40-granule span.
        const int scale = static_cast<int>(rng() % 46);
        const uint64_t due = now + 1 + (rng() & ((uint64_t{1} << scale) - 1));
        w.schedule(id, due);
        armed[id] = due;
    };
    for (uint32_t id = 0; id < kTimers; ++id) arm(id);
    uint64_t fired = 0;
    for (int step = 0; step < 200'000 && !armed.empty(); ++step) {
        const int jump = static_cast<int>(rng() % 40);
        now += 1 + (rng() & ((uint64_t{1} << jump) - 1));
        w.advance(now, [&](uint32_t id) {
            REQUIRE(armed.count(id));
            REQUIRE(armed[id] <= now);
            armed.erase(id);
            ++fired;
            if (rng() % 2) arm(id);  // re-arm from inside the callback
        });
        for (const auto& [id, due] : armed) {
            // Whatever is still armed must not be overdue by more than a granule.
            REQUIRE(due + (uint64_t{1} << kShift) > now);
        }
        if (step % 7 == 0 && !armed.empty()) {  // cancel one
            const uint32_t id = armed.begin()->first;
            w.cancel(id);
            armed.erase(id);
        }
    }
    CHECK(fired > kTimers);
}

TEST_CASE("next_bound is a lower bound of the next due timer", "[shaper][timer]") {
    TimerWheel w(0);
    w.resize(3);
    CHECK(!w.next_bound());
    w.schedule(0, 5'000);
    w.schedule(1, 70);
    REQUIRE(w.next_bound());
    CHECK(*w.next_bound() <= 70);
    int n = 0;
    w.advance(69, [&](uint32_t) { ++n; });
    CHECK(n == 0);
    w.advance(70, [&](uint32_t id) { CHECK(id == 1); ++n; });
    CHECK(n == 1);
    CHECK(*w.next_bound() <= 5'000);
    CHECK(*w.next_bound() > 70);
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
