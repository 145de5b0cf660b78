// CoDel against RFC 8289, in virtual time: the real codel_dequeue() on a
// slot list, served by a link that offers one departure per frame time and
// fed so that a chosen number of packets stands in the queue. Each check
// derives its expected times from the RFC's rules and control law
// (drop_next = t + interval / sqrt(count)), computed here in floating point,
// not from the implementation's fixed-point arithmetic.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "shaper/codel.hpp"

using namespace sluice::shaper;

namespace {

// Ticks are nanoseconds, as with a 1 GHz clock.
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kTarget = 5 * kMs;
constexpr uint64_t kInterval = 100 * kMs;
constexpr uint32_t kFrame = 1'514;
// A 1514-byte frame at 20 Mbit/s takes 605.6 us; 600 us keeps the sums
// readable and puts no scheduled drop time on a departure instant.
constexpr uint64_t kService = 600'000;

struct Departure {
    uint64_t at;
    uint64_t sojourn;
    uint64_t bytes_left;
};

struct Link {
    PacketPool pool{8'192};
    PacketList q;
    CodelState st;
    CodelProfile pr{kTarget, kInterval, kFrame};
    uint64_t now = 0;
    uint64_t next_handle = 0;
    std::vector<uint64_t> drops;  // when each drop happened
    std::vector<Departure> departures;

    void arrive(uint32_t len = kFrame) {
        const uint32_t s = pool.take();
        REQUIRE(s != kNoSlot);
        pool[s].packet = Packet{next_handle++, len, 0};
        pool[s].enqueued_at = now;
        pool[s].cost = len;
        q.push(pool, s);
    }
    // One departure opportunity at `now`.
    bool serve() {
        const uint32_t s = codel_dequeue(st, pr, pool, q, now, [&](uint32_t v) {
            drops.push_back(now);
            pool.give_back(v);
        });
        if (s == kNoSlot) return false;
        departures.push_back({now, now - pool[s].enqueued_at, q.bytes});
        pool.give_back(s);
        return true;
    }
    // Runs the link for `duration`: a departure opportunity every kService,
    // before each of which arrivals top the queue up to `standing` packets
    // (so a drop is made good by the next arrival, as a window-limited
    // sender would; `standing` 0 lets the queue drain).
    void run(uint64_t duration, uint32_t standing) {
        const uint64_t end = now + duration;
        while (now < end) {
            while (q.packets < standing) arrive();
            serve();
            now += kService;
        }
    }
    size_t drops_since(uint64_t t) const {
        size_t n = 0;
        for (uint64_t d : drops) n += d >= t ? 1 : 0;
        return n;
    }
};

// RFC 8289: a packet is "above target" if it waited at least target and
// more than one MTU stays queued behind it. The longest stretch of time
// over which every departure was above target.
uint64_t longest_above(const std::vector<Departure>& deps) {
    uint64_t best = 0;
    bool in = false;
    uint64_t since = 0;
    for (const Departure& d : deps) {
        const bool above = d.sojourn >= kTarget && d.bytes_left > kFrame;
        if (above && !in) since = d.at;
        in = above;
        if (above) best = std::max(best, d.at - since);
    }
    return best;
}

// Checks the drops of one episode, from drops[first] on, against the
// control law: the episode enters the dropping state with a drop at
// drops[first] and count `c`; then each drop is due at drop_next, which
// starts at that time plus interval / sqrt(c) and moves on by interval /
// sqrt(count) as each drop increments count. Each drop must happen at the
// first departure opportunity at or after it is due. Returns how many
// drops it checked.
size_t check_schedule(const std::vector<uint64_t>& drops, size_t first, size_t last, uint32_t c) {
    double due = static_cast<double>(drops[first]);
    for (size_t i = first; i < last; ++i) {
        const size_t k = i - first;
        // The fixed-point law truncates, by at most a nanosecond a step.
        const double slack = 1'000.0 + 2.0 * static_cast<double>(k);
        INFO("drop " << k + 1 << " of the episode (count from " << c << ") at " << drops[i] << " ns, due at "
                     << static_cast<uint64_t>(due) << " ns");
        CHECK(static_cast<double>(drops[i]) >= due - slack);
        CHECK(static_cast<double>(drops[i]) < due + static_cast<double>(kService) + slack);
        due += static_cast<double>(kInterval) / std::sqrt(static_cast<double>(c + k));
    }
    return last - first;
}

}  // namespace

TEST_CASE("CoDel's control law: interval / sqrt(count) within a part in a million", "[shaper][codel]") {
    for (uint32_t n = 1; n < 200'000; n = n < 100 ? n + 1 : n * 11 / 10) {
        const double want = static_cast<double>(kInterval) / std::sqrt(static_cast<double>(n));
        const double got = static_cast<double>(codel_control_law(0, kInterval, n));
        INFO("count " << n);
        CHECK(std::abs(got - want) <= want * 1e-6 + 1);
    }
    // At the largest count and an interval of 10 s of a 5 GHz clock.
    const uint64_t big = 50'000'000'000ull;
    CHECK(codel_control_law(1ull << 62, big, 0xffffffffu) - (1ull << 62) ==
          Approx(static_cast<double>(big) / std::sqrt(4294967295.0)).epsilon(1e-6));
}

TEST_CASE("CoDel never drops while the sojourn stays under target", "[shaper][codel]") {
    Link l;
    l.run(10'000 * kMs, 9);  // 8 packets ahead of each arrival: 4.8 ms
    CHECK(l.drops.empty());
    CHECK(l.departures.back().sojourn == 8 * kService);
    CHECK(l.departures.back().sojourn < kTarget);
}

TEST_CASE("CoDel never drops a queue of one packet, however long it waited", "[shaper][codel]") {
    Link l;
    // One packet at a time, each waiting 30 ms for its turn.
    for (int i = 0; i < 1'000; ++i) {
        l.arrive();
        l.now += 30 * kMs;
        REQUIRE(l.serve());
    }
    CHECK(l.drops.empty());
    CHECK(l.departures.back().sojourn == 30 * kMs);
}

TEST_CASE("CoDel does not drop when the sojourn is above target for less than an interval", "[shaper][codel]") {
    Link l;
    // Bursts: 20 packets standing (11.4 ms) for 80 ms, then drained.
    for (int i = 0; i < 50; ++i) {
        l.run(80 * kMs, 20);
        l.run(40 * kMs, 0);
    }
    const uint64_t above = longest_above(l.departures);
    CHECK(above >= 80 * kMs);  // the bursts were long enough to matter...
    CHECK(above < kInterval);  // ...but shorter than an interval
    CHECK(l.drops.empty());
}

TEST_CASE("CoDel drops first one interval after the sojourn rose above target, then by the control law",
          "[shaper][codel]") {
    Link l;
    l.run(1'000 * kMs, 5);  // well under target
    REQUIRE(l.drops.empty());
    const size_t before = l.departures.size();
    l.run(3'000 * kMs, 40);  // a standing queue of 23 ms
    // The first departure above target sets first_above_time to it plus an
    // interval; the first drop is at the first departure from then on.
    uint64_t first_above = 0;
    for (size_t i = before; i < l.departures.size(); ++i)
        if (l.departures[i].sojourn >= kTarget) {
            first_above = l.departures[i].at;
            break;
        }
    REQUIRE(first_above != 0);
    REQUIRE(l.drops.size() > 30);
    CHECK(l.drops[0] >= first_above + kInterval);
    CHECK(l.drops[0] < first_above + kInterval + kService);
    // One episode (the queue never fell under target), entered with count 1.
    check_schedule(l.drops, 0, l.drops.size(), 1);
    CHECK(l.st.dropping);
    CHECK(l.st.count == l.drops.size());
}

TEST_CASE("CoDel drops several packets in one dequeue when the control law runs ahead of the link",
          "[shaper][codel]") {
    Link l;
    // After a minute of a standing queue the drop spacing
    // (interval/sqrt(count)) is below a frame time.
    l.run(60'000 * kMs, 60);
    REQUIRE(static_cast<double>(kInterval) / std::sqrt(static_cast<double>(l.st.count)) < kService);
    size_t same = 0;
    for (size_t i = 1; i < l.drops.size(); ++i) same += l.drops[i] == l.drops[i - 1] ? 1 : 0;
    CHECK(same > 0);
    check_schedule(l.drops, 0, l.drops.size(), 1);
}

TEST_CASE("CoDel leaves the dropping state when the sojourn falls under target", "[shaper][codel]") {
    Link l;
    l.run(1'500 * kMs, 40);
    REQUIRE(l.st.dropping);
    const size_t before = l.departures.size();
    l.run(2'000 * kMs, 5);  // drains to 5 packets standing: 2.4 ms
    uint64_t below = 0;
    for (size_t i = before; i < l.departures.size(); ++i)
        if (l.departures[i].sojourn < kTarget) {
            below = l.departures[i].at;
            break;
        }
    REQUIRE(below != 0);
    CHECK(l.drops_since(below) == 0);
    CHECK_FALSE(l.st.dropping);
}

TEST_CASE("CoDel re-entering the dropping state soon resumes at the last episode's drop count", "[shaper][codel]") {
    Link l;
    l.run(1'500 * kMs, 40);
    l.run(300 * kMs, 5);  // out of the dropping state, well within 16 intervals
    const size_t n1 = l.drops.size();
    REQUIRE_FALSE(l.st.dropping);
    REQUIRE(n1 > 3);
    l.run(1'000 * kMs, 40);
    REQUIRE(l.drops.size() > n1 + 3);
    // RFC 8289: count = count - lastcount, the drops after the first of the
    // last episode, when that is more than 1 and the episode's drop_next
    // is less than 16 intervals ago.
    const auto resumed = static_cast<uint32_t>(n1 - 1);
    CHECK(check_schedule(l.drops, n1, l.drops.size(), resumed) > 3);
    // Its second drop is interval/sqrt(n1 - 1) after the first: much sooner
    // than a fresh episode's interval.
    CHECK(l.drops[n1 + 1] - l.drops[n1] < kInterval / 2);
}

TEST_CASE("CoDel re-entering the dropping state after 16 intervals starts again at count 1", "[shaper][codel]") {
    Link l;
    l.run(1'500 * kMs, 40);
    l.run(2'000 * kMs, 5);  // 20 intervals under target
    const size_t n1 = l.drops.size();
    REQUIRE(n1 > 3);
    l.run(1'000 * kMs, 40);
    REQUIRE(l.drops.size() > n1 + 3);
    check_schedule(l.drops, n1, l.drops.size(), 1);
    CHECK(l.drops[n1 + 1] - l.drops[n1] >= kInterval);
}

TEST_CASE("CoDel restarts at count 1 after an episode of a single drop", "[shaper][codel]") {
    Link l;
    // Just over an interval above target: one drop, then under target.
    l.run(1'000 * kMs, 5);
    l.run(110 * kMs, 40);
    l.run(300 * kMs, 5);
    const size_t n1 = l.drops.size();
    REQUIRE(n1 == 1);
    l.run(1'000 * kMs, 40);
    REQUIRE(l.drops.size() > n1 + 3);
    check_schedule(l.drops, n1, l.drops.size(), 1);
}
