// A randomized soak: a tree of classes under random traffic while classes
// are modified, added and removed at random, with every packet accounted.
#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

struct Ledger {
    uint64_t offered = 0, departed = 0, dropped = 0;
};

}  // namespace

TEST_CASE("random live changes under random traffic never lose, duplicate or strand a packet",
          "[shaper][live][soak]") {
    const uint64_t seed = GENERATE(2024, 7, 99);
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    SchedulerConfig cfg;
    cfg.tick_hz = kHz;
    cfg.packet_capacity = 4'096;
    Scheduler s(cfg);
    Ledger ledger;
    std::set<uint64_t> queued;  // handles inside the scheduler
    std::pair<Ledger*, std::set<uint64_t>*> sink{&ledger, &queued};
    s.set_drop_handler(
        [](void* ctx, const Packet& p, DropReason) {
            auto* q = static_cast<std::pair<Ledger*, std::set<uint64_t>*>*>(ctx);
            ++q->first->dropped;
            q->second->erase(p.handle);
        },
        &sink);

    REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(50))}, 0).ok());
    std::vector<uint32_t> classes{1};
    uint32_t next_id = 2;
    auto random_class = [&] { return classes[rng() % classes.size()]; };
    auto add_random = [&](uint64_t now) {
        const uint32_t parent = random_class();
        const auto kind = static_cast<LeafKind>(rng() % 3);
        ClassConfig c = leaf(next_id, parent, kbit(100 + rng() % 5'000), mbit(1 + rng() % 40),
                             static_cast<uint8_t>(rng() % 8), 1 + static_cast<uint32_t>(rng() % 5), kind);
        c.leaf.limit_packets = 20 + static_cast<uint32_t>(rng() % 200);
        c.leaf.flows = 16;
        if (s.apply(AddClass{c}, now).ok()) classes.push_back(next_id);
        ++next_id;
    };
    for (int i = 0; i < 40; ++i) add_random(0);

    uint64_t handle = 0;
    Packet out[32];
    uint64_t now = 0;
    for (int step = 0; step < 200'000; ++step) {
        now += 5'000 + rng() % 20'000;
        // Traffic to random classes (some are inner or gone: dropped with a reason).
        for (int k = static_cast<int>(rng() % 6); k > 0; --k) {
            const uint32_t id = rng() % 10 == 0 ? next_id + 5 : random_class();
            ++ledger.offered;
            queued.insert(handle);
            const auto len = static_cast<uint32_t>(64 + rng() % 1'450);
            if (!s.enqueue(id, Packet{handle, len, static_cast<uint32_t>(rng())}, now)) REQUIRE(!queued.count(handle));
            ++handle;
        }
        const uint32_t n = s.dequeue_burst(out, 32, now);
        for (uint32_t k = 0; k < n; ++k) {
            REQUIRE(queued.erase(out[k].handle) == 1);  // departs once, and only if queued
            ++ledger.departed;
        }
        // A change now and then.
        if (rng() % 50 == 0) {
            const uint32_t what = rng() % 4;
            if (what == 0) {
                add_random(now);
            } else if (what == 1 && classes.size() > 2) {
                const uint32_t victim = classes[1 + rng() % (classes.size() - 1)];
                RemoveClass r{victim, std::nullopt};
                if (rng() % 2) r.move_packets_to = random_class();
                if (s.apply(r, now).ok()) {
                    std::vector<uint32_t> alive;
                    for (uint32_t id : classes)
                        if (s.snapshot(id)) alive.push_back(id);
                    classes = alive;
                }
            } else {
                ModifyClass m;
                m.id = random_class();
                const uint64_t rate = kbit(100 + rng() % 20'000);
                m.rate = rate;
                m.ceil = rate * (1 + rng() % 4);
                if (rng() % 2) m.prio = static_cast<uint8_t>(rng() % 8);
                if (rng() % 2) m.weight = 1 + static_cast<uint32_t>(rng() % 8);
                (void)s.apply(m, now);
            }
        }
        REQUIRE(ledger.offered == ledger.departed + ledger.dropped + s.backlog_packets());
    }
    // With no more traffic, everything queued leaves (or is dropped by AQM).
    for (int i = 0; i < 100'000 && s.backlog_packets() > 0; ++i) {
        now += 1'000'000;
        const uint32_t n = s.dequeue_burst(out, 32, now);
        for (uint32_t k = 0; k < n; ++k) {
            REQUIRE(queued.erase(out[k].handle) == 1);
            ++ledger.departed;
        }
    }
    CHECK(s.backlog_packets() == 0);
    CHECK(queued.empty());
    CHECK(ledger.offered == ledger.departed + ledger.dropped);
    CHECK(ledger.departed > 10'000);  // the 50 Mbit/s root kept sending throughout
}
