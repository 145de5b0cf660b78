// Latency and AQM behaviour in virtual time: priority, CoDel, fq_codel,
// and the delay statistics that report it.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

TEST_CASE("with a saturating bulk class, a priority-0 class at 10% of a 20 Mbit/s link sees p99 delay under 2 ms",
          "[shaper][latency]") {
    ClassConfig bulk = leaf(11, 1, mbit(18), mbit(20), 1);
    bulk.leaf.limit_packets = 10'000;  // a deep bulk queue: its own delay is large
    Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(20)), leaf(10, 1, mbit(2), mbit(20), 0), bulk});
    VirtualTraffic t(s);
    Source voice;  // 1.6 Mbit/s of 200-byte packets, within the class's rate
    voice.class_id = 10;
    voice.kind = Source::Kind::paced;
    voice.length = 200;
    voice.rate = mbit(1.6);
    voice.start = 3'333;  // not aligned with the harness's 10 us steps
    const size_t v = t.add(voice);
    Source b;
    b.class_id = 11;
    b.keep_queued = 2'000;
    const size_t bi = t.add(b);
    t.run(sec(10), sec(1), sec(10));

    const uint64_t p99 = t.source(v).delay_quantile(0.99);
    INFO("priority p99 " << p99 / 1e6 << " ms, bulk p50 " << t.source(bi).delay_quantile(0.5) / 1e6 << " ms");
    CHECK(p99 < ms(2));
    CHECK(t.source(bi).delay_quantile(0.5) > ms(100));  // the bulk queue really is deep
    CHECK(t.source(v).dropped_packets == 0);
    // The scheduler's own histogram agrees (within its bucket resolution).
    CHECK(s.snapshot(10)->delay_p99_ns < ms(2.5));
}

TEST_CASE("CoDel holds a responsive flow's standing queue near its 5 ms target while a fifo lets it grow",
          "[shaper][codel]") {
    auto run = [](LeafKind kind) {
        ClassConfig c = leaf(10, 1, mbit(10), mbit(10), 0, 1, kind);
        c.leaf.limit_packets = 1'000;
        Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(10)), c});
        VirtualTraffic t(s);
        Source tcp;
        tcp.class_id = 10;
        tcp.kind = Source::Kind::aimd;
        tcp.rate = mbit(5);
        tcp.rtt = ms(20);
        const size_t i = t.add(tcp);
        t.run(sec(20), sec(5), sec(20));
        return std::pair{t.source(i).delay_quantile(0.5), t.source(i).window_rate(sec(15))};
    };
    const auto [codel_delay, codel_rate] = run(LeafKind::codel);
    const auto [fifo_delay, fifo_rate] = run(LeafKind::fifo);
    INFO("codel p50 " << codel_delay / 1e6 << " ms at " << codel_rate * 8 / 1e6 << " Mbit/s; fifo p50 "
                      << fifo_delay / 1e6 << " ms at " << fifo_rate * 8 / 1e6 << " Mbit/s");
    CHECK(codel_delay > ms(1));
    CHECK(codel_delay < ms(15));
    CHECK(codel_rate > mbit(10) * 0.8);  // the link stays busy
    CHECK(fifo_delay > ms(300));
}

TEST_CASE("fq_codel keeps a sparse flow's delay low next to a bulk flow in the same class", "[shaper][fq_codel]") {
    auto run = [](LeafKind kind) {
        ClassConfig c = leaf(10, 1, mbit(10), mbit(10), 0, 1, kind);
        c.leaf.limit_packets = 2'000;
        Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(10)), c});
        VirtualTraffic t(s);
        Source bulk;  // unresponsive, twice the class rate
        bulk.class_id = 10;
        bulk.kind = Source::Kind::paced;
        bulk.rate = mbit(20);
        bulk.flow_hash = 0x1234'5678;
        t.add(bulk);
        Source sparse;  // a ping every 10 ms
        sparse.class_id = 10;
        sparse.kind = Source::Kind::paced;
        sparse.length = 100;
        sparse.rate = 100 * 100.0;
        sparse.flow_hash = 0x9abc'def0;
        const size_t i = t.add(sparse);
        t.run(sec(10), sec(2), sec(10));
        return std::pair{t.source(i).delay_quantile(0.99), t.source(i).dropped_packets};
    };
    const auto [fq_p99, fq_drops] = run(LeafKind::fq_codel);
    const auto [codel_p99, codel_drops] = run(LeafKind::codel);
    INFO("sparse p99: fq_codel " << fq_p99 / 1e6 << " ms, codel " << codel_p99 / 1e6 << " ms");
    CHECK(fq_p99 < ms(1.5));
    CHECK(fq_drops == 0);
    CHECK(codel_p99 > ms(5));  // without flow queueing it waits behind the bulk flow
}

TEST_CASE("every packet offered either departs, is dropped with a reason, or is still queued",
          "[shaper][accounting]") {
    ClassConfig small = leaf(10, 1, mbit(1), mbit(5), 0, 1, LeafKind::codel);
    small.leaf.limit_packets = 50;
    ClassConfig fq = leaf(11, 1, mbit(1), mbit(5), 1, 1, LeafKind::fq_codel);
    fq.leaf.limit_packets = 80;
    Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(5)), small, fq});
    VirtualTraffic t(s);
    for (uint32_t f = 0; f < 4; ++f) {
        Source src;
        src.class_id = f < 2 ? 10 : 11;
        src.kind = Source::Kind::paced;
        src.rate = mbit(3);
        src.flow_hash = f * 0x4000'0000u;
        t.add(src);
    }
    Source stray;  // to a class that does not exist
    stray.class_id = 99;
    stray.kind = Source::Kind::paced;
    stray.rate = 100'000;
    t.add(stray);
    t.run(sec(3));
    uint64_t offered = 0, departed = 0, dropped = 0;
    for (size_t i = 0; i < 5; ++i) {
        offered += t.source(i).offered_packets;
        departed += t.source(i).departed_packets;
        dropped += t.source(i).dropped_packets;
    }
    const auto a = s.snapshot(10), b = s.snapshot(11);
    CHECK(dropped > 0);
    CHECK(offered == departed + dropped + s.backlog_packets());
    CHECK(s.backlog_packets() == a->backlog_packets + b->backlog_packets);
    CHECK(a->counters.packets + b->counters.packets == departed);
    uint64_t counted = 0;
    for (uint64_t d : a->counters.drops) counted += d;
    for (uint64_t d : b->counters.drops) counted += d;
    CHECK(counted + t.source(4).dropped_packets == dropped);
    CHECK(t.source(4).dropped_packets == t.source(4).offered_packets);
    CHECK(a->counters.drops[static_cast<size_t>(DropReason::queue_limit)] +
              a->counters.drops[static_cast<size_t>(DropReason::codel)] > 0);
}

TEST_CASE("an idle worker learns from next_wakeup when a waiting class may send again", "[shaper][timer]") {
    Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(10)), leaf(10, 1, mbit(1), mbit(1))});
    for (uint64_t k = 0; k < 4; ++k) REQUIRE(s.enqueue(10, Packet{k, 1'500, 0}, 0));
    Packet out[4];
    // The bucket (1 ms at 1 Mbit/s plus one MTU) lets two packets go at once.
    REQUIRE(s.dequeue_burst(out, 4, 1) == 2);
    REQUIRE(s.dequeue_burst(out, 4, 2) == 0);
    const auto wake = s.next_wakeup();
    REQUIRE(wake);
    CHECK(*wake > 2);
    // One 1,500-byte packet time at 1 Mbit/s, plus the debt; the wheel may
    // round a wait this long up by 3%.
    CHECK(*wake <= ms(12.1) + ms(12.1) * 8 / 254);
    // Nothing leaves before it; sleeping until then is enough.
    CHECK(s.dequeue_burst(out, 4, *wake - 1) == 0);
    CHECK(s.dequeue_burst(out, 4, *wake) == 1);
}

TEST_CASE("a meter's drop is counted in the class it was meant for", "[shaper][stats]") {
    Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(10)), leaf(10, 1, mbit(1))});
    s.count_drop(10, DropReason::meter, 1'000);
    s.count_drop(10, DropReason::meter, 500);
    const auto snap = s.snapshot(10);
    CHECK(snap->counters.drops[static_cast<size_t>(DropReason::meter)] == 2);
    CHECK(snap->counters.drop_bytes[static_cast<size_t>(DropReason::meter)] == 1'500);
    CHECK(drop_reason_name(DropReason::meter) == "meter");
}

TEST_CASE("a class's delay percentiles are the same whether its departures are tallied or go straight to the histogram",
          "[shaper][stats]") {
    // Up to 4,096 classes every departure goes to the histogram; beyond, a
    // small tally in the class's state counts most of them and spills the
    // rest. Delays spread log-uniformly over five octaves and more make the
    // tally miss, fill and move its window.
    auto run = [](uint32_t classes) {
        SchedulerConfig cfg;
        cfg.tick_hz = kHz;
        Scheduler s(cfg);
        REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(10'000))}, 0).ok());
        for (uint32_t i = 0; i < classes; ++i) REQUIRE(s.apply(AddClass{leaf(100 + i, 1, mbit(1'000))}, 0).ok());
        std::mt19937_64 rng(11);
        std::vector<uint64_t> delays;
        uint64_t now = 0;
        Packet out[1];
        for (int k = 0; k < 20'000; ++k) {
            // 2 us .. 64 ms, log-uniform.
            const auto d = static_cast<uint64_t>(2'000.0 * std::exp2(15.0 * static_cast<double>(rng() % 10'000) / 10'000.0));
            REQUIRE(s.enqueue(100, Packet{static_cast<uint64_t>(k), 100, 0}, now));
            now += d;
            REQUIRE(s.dequeue_burst(out, 1, now) == 1);
            delays.push_back(d);
            now += ms(0.1);
        }
        std::sort(delays.begin(), delays.end());
        const ClassSnapshot snap = *s.snapshot(100);
        CHECK(snap.delay_samples == delays.size());
        for (const auto& [q, got] : {std::pair{0.5, snap.delay_p50_ns}, std::pair{0.99, snap.delay_p99_ns}}) {
            const auto exact = static_cast<double>(delays[static_cast<size_t>(q * static_cast<double>(delays.size() - 1))]);
            INFO(classes << " classes, q " << q << ": exact " << exact << " ns, reported " << got << " ns");
            CHECK(static_cast<double>(got) >= exact);
            CHECK(static_cast<double>(got) <= exact * 1.26);
        }
        return std::pair{snap.delay_p50_ns, snap.delay_p99_ns};
    };
    CHECK(run(10) == run(5'000));
}

TEST_CASE("the packet path takes no memory: every class's delay histogram comes with the class", "[shaper][stats][memory]") {
    // Resident memory, read from the kernel.
    auto resident_bytes = [] {
        std::FILE* f = std::fopen("/proc/self/statm", "r");
        REQUIRE(f);
        unsigned long size = 0, resident = 0;
        REQUIRE(std::fscanf(f, "%lu %lu", &size, &resident) == 2);
        std::fclose(f);
        return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    };
    // Two chunks of histograms (8,192 classes, 6.5 MB), beyond the
    // direct-to-histogram bound: each class's second departure, 50 ms after
    // a 1 us one, misses its tally and its delay window and goes to its
    // histogram.
    constexpr uint32_t kClasses = 8'192;
    SchedulerConfig cfg;
    cfg.tick_hz = kHz;
    Scheduler s(cfg);
    REQUIRE(s.apply(AddClass{leaf(1, kNoParent, mbit(10'000))}, 0).ok());
    for (uint32_t i = 0; i < kClasses; ++i) REQUIRE(s.apply(AddClass{leaf(100 + i, 1, mbit(1'000))}, 0).ok());
    uint64_t now = 0;
    Packet out[1];
    auto send = [&](uint32_t id, uint64_t delay) {
        REQUIRE(s.enqueue(id, Packet{id, 100, 0}, now));
        now += delay;
        REQUIRE(s.dequeue_burst(out, 1, now) == 1);
        now += ms(1);
    };
    send(100, ms(0.001));  // warms the test's own code paths
    const uint64_t before = resident_bytes();
    for (uint32_t i = 0; i < kClasses; ++i) {
        send(100 + i, ms(0.001));
        send(100 + i, ms(50));
    }
    const uint64_t grown = resident_bytes() - std::min(before, resident_bytes());
    INFO("resident memory grew by " << grown << " bytes during traffic");
    CHECK(grown < (uint64_t{1} << 20));
    const ClassSnapshot last = *s.snapshot(100 + kClasses - 1);
    CHECK(last.delay_samples == 2);
    CHECK(last.delay_p99_ns >= 50'000'000);
}

TEST_CASE("100,000 fq_codel classes of 1,024 flows each pass traffic with flow records for the packets only",
          "[shaper][fq_codel][memory]") {
    SchedulerConfig cfg;
    cfg.tick_hz = kHz;
    cfg.packet_capacity = 1u << 16;
    Scheduler s(cfg);
    REQUIRE(s.apply(AddClass{leaf(1, kNoParent, gbit(100))}, 0).ok());
    constexpr uint32_t kClasses = 100'000;
    for (uint32_t i = 0; i < kClasses; ++i) {
        ClassConfig c = leaf(1'000 + i, 1, mbit(10), gbit(100), 0, 1, LeafKind::fq_codel);
        REQUIRE(c.leaf.flows == 1'024);
        REQUIRE(s.apply(AddClass{c}, 0).ok());
    }
    const FlowTable& ft = s.flow_table();
    // Per-class tables would be 100,000 x 1,024 x 64 bytes (6.5 GB).
    CHECK(ft.capacity() <= 2 * cfg.packet_capacity);
    CHECK(ft.memory_bytes() < 16u << 20);

    // Four packets of distinct flows to every class, a burst at a time,
    // then everything out.
    std::vector<uint32_t> ids(32);
    std::vector<Packet> pk(32);
    uint64_t sent = 0, queued = 0, got = 0;
    std::vector<Packet> out(64);
    uint64_t now = 1'000;
    for (uint32_t k = 0; k < 4; ++k) {
        for (uint32_t base = 0; base < kClasses; base += 32) {
            const uint32_t n = std::min<uint32_t>(32, kClasses - base);
            for (uint32_t i = 0; i < n; ++i) {
                ids[i] = 1'000 + base + i;
                pk[i] = Packet{sent++, 100, (base + i) * 2'654'435'761u + k * 0x4000'0000u};
            }
            queued += s.enqueue_burst(ids.data(), pk.data(), n, now);
            if (s.backlog_packets() > 30'000) {
                got += s.dequeue_burst(out.data(), 64, now);
                now += 1'000;
            }
        }
        CHECK(ft.in_use() <= s.backlog_packets());
    }
    CHECK(queued == sent);
    for (int i = 0; i < 1'000'000 && s.backlog_packets(); ++i) got += s.dequeue_burst(out.data(), 64, now += 1'000);
    CHECK(got == sent);
    CHECK(ft.in_use() == 0);
    CHECK(ft.remembered() == 0);
}

TEST_CASE("removing a fq_codel class hands out its packets and frees its flow records", "[shaper][fq_codel]") {
    Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(10)), leaf(10, 1, mbit(1), mbit(1), 0, 1, LeafKind::fq_codel),
                        leaf(11, 1, mbit(1), mbit(1), 0, 1, LeafKind::fq_codel)});
    uint64_t removed = 0;
    s.set_drop_handler(
        [](void* c, const Packet&, DropReason r) { *static_cast<uint64_t*>(c) += r == DropReason::class_removed; },
        &removed);
    for (uint32_t k = 0; k < 40; ++k) REQUIRE(s.enqueue(10 + k % 2, Packet{k, 500, k * 0x0400'0000u}, 0));
    CHECK(s.flow_table().in_use() == 40);
    CHECK(s.snapshot(10)->backlog_packets == 20);
    CHECK(s.snapshot(10)->backlog_bytes >= 20 * 500);
    CHECK(s.snapshot(10)->backlog_bytes == s.snapshot(11)->backlog_bytes);
    REQUIRE(s.apply(RemoveClass{10, std::nullopt}, 0).ok());
    CHECK(removed == 20);
    CHECK(s.flow_table().in_use() == 20);
    CHECK(s.backlog_packets() == 20);
    // A class added now takes the removed one's slot and starts clean.
    REQUIRE(s.apply(AddClass{leaf(12, 1, mbit(1), mbit(1), 0, 1, LeafKind::fq_codel)}, 0).ok());
    CHECK(s.snapshot(12)->backlog_packets == 0);
    REQUIRE(s.enqueue(12, Packet{99, 500, 0}, 0));
    CHECK(s.snapshot(12)->backlog_packets == 1);
    CHECK(s.flow_table().in_use() == 21);
    REQUIRE(s.apply(RemoveClass{11, std::nullopt}, 0).ok());
    REQUIRE(s.apply(RemoveClass{12, std::nullopt}, 0).ok());
    CHECK(s.flow_table().in_use() == 0);
    CHECK(s.backlog_packets() == 0);
}

TEST_CASE("a fq_codel leaf that gets a child hands its packets over and keeps no flow records", "[shaper][fq_codel]") {
    Scheduler s = scheduler_with({leaf(1, kNoParent, mbit(10)), leaf(10, 1, mbit(1), mbit(1), 0, 1, LeafKind::fq_codel)});
    for (uint32_t k = 0; k < 30; ++k) REQUIRE(s.enqueue(10, Packet{k, 500, k * 0x0800'0000u}, 0));
    const uint64_t bytes = s.snapshot(10)->backlog_bytes;
    CHECK(s.flow_table().in_use() == 30);
    REQUIRE(s.apply(AddClass{leaf(20, 10, mbit(1), mbit(1), 0, 1, LeafKind::fq_codel)}, 0).ok());
    // An inner class's backlog is its subtree's: here all the child's.
    CHECK(s.backlog_packets() == 30);
    CHECK(s.snapshot(10)->backlog_packets == 30);
    CHECK(s.snapshot(20)->backlog_packets == 30);
    CHECK(s.snapshot(20)->backlog_bytes == bytes);
    CHECK(s.flow_table().in_use() == 30);  // the child's now
    // Every packet comes out of the child, in order within each flow.
    std::vector<Packet> out(64);
    uint32_t got = 0;
    for (uint64_t now = 0; got < 30 && now < sec(1); now += ms(1)) got += s.dequeue_burst(out.data(), 64, now);
    CHECK(got == 30);
    CHECK(s.flow_table().in_use() == 0);
    // Removing the child makes the parent a fq_codel leaf again, empty.
    REQUIRE(s.apply(RemoveClass{20, std::nullopt}, sec(1)).ok());
    REQUIRE(s.enqueue(10, Packet{99, 500, 1}, sec(1)));
    CHECK(s.snapshot(10)->backlog_packets == 1);
    CHECK(s.flow_table().in_use() == 1);
}

TEST_CASE("a class whose packets cost more than its quantum keeps sharing with its sibling indefinitely",
          "[shaper][drr]") {
    // 9000-byte frames under the default 1514-byte MTU: every jumbo packet
    // costs more than the class's quantum. Its deficit must stay bounded:
    // an int32 deficit that kept falling wrapped after about 290,000 such
    // packets, and the class then held the turn and starved its sibling.
    Scheduler s = scheduler_with({leaf(1, kNoParent, gbit(10)), leaf(10, 1, mbit(1), gbit(10)), leaf(11, 1, mbit(1), gbit(10))});
    VirtualTraffic t(s);
    Source jumbo;
    jumbo.class_id = 10;
    jumbo.length = 9000;
    jumbo.keep_queued = 256;
    const size_t j = t.add(jumbo);
    Source small;
    small.class_id = 11;
    small.length = 1500;
    small.keep_queued = 256;
    const size_t m = t.add(small);
    // Over 300,000 jumbo packets pass before the window that is judged.
    t.run(sec(4), sec(3), sec(4));
    const double jumbo_rate = t.source(j).window_rate(sec(1)), small_rate = t.source(m).window_rate(sec(1));
    INFO("jumbo " << jumbo_rate * 8 / 1e9 << " Gbit/s, small " << small_rate * 8 / 1e9 << " Gbit/s");
    CHECK(small_rate > gbit(1));
    CHECK(jumbo_rate > gbit(1));
}
