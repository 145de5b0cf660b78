// Shaping in real time: a Direction with a scheduler runs on a worker lcore
// between two net_ring ports, the test offers more than a class may send,
// and the rate that comes out is measured against the TSC over seconds.
#include <catch2/catch.hpp>

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include <atomic>
#include <cstring>

#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "dataplane/mempool.hpp"
#include "shaper/scheduler.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/ring_port.hpp"
#include "tests/support/stolen_time.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice;

namespace {

shaper::ClassConfig klass(uint32_t id, uint32_t parent, uint64_t rate_bits, uint64_t ceil_bits) {
    shaper::ClassConfig c;
    c.id = id;
    c.parent = parent;
    c.rate = rate_bits / 8;
    c.ceil = ceil_bits / 8;
    // Bursts of 10 ms at each rate: the worker shares its CPU with the test
    // (and CI with other jobs), and a descheduled worker must not lose the
    // time it was away. A dedicated core needs far less.
    c.burst = static_cast<uint32_t>(c.rate / 100);
    c.cburst = static_cast<uint32_t>(c.ceil / 100);
    c.leaf.kind = shaper::LeafKind::fifo;
    c.leaf.limit_packets = 200;
    return c;
}

// A UDP frame of `size` bytes, its IPv4 length set to match.
test::Bytes udp_frame(uint16_t size) {
    test::Bytes f = test::udp4_frame(1, 2);
    f.resize(size, 0);
    f[16] = static_cast<uint8_t>((size - 14) >> 8);  // IPv4 total length
    f[17] = static_cast<uint8_t>((size - 14) & 0xff);
    f[24] = f[25] = 0;  // checksum no longer matters to the shaper; keep the frame well-formed
    return f;
}

// An upload Direction from `lan` to `wan` through `scheduler`, class 1 the default.
dataplane::DirectionConfig upload_through(const test::RingPort& lan, const test::RingPort& wan,
                                          shaper::Scheduler& scheduler) {
    dataplane::DirectionConfig cfg{"upload", lan.id, wan.id, 32, 4096};
    cfg.scheduler = &scheduler;
    cfg.default_class = 1;
    return cfg;
}

// Puts `n` copies of `frame` in the LAN port's receive ring.
void offer(const test::RingPort& lan, rte_mempool* pool, const test::Bytes& frame, int n) {
    for (int i = 0; i < n; ++i) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        REQUIRE(m != nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
        REQUIRE(rte_ring_enqueue(lan.rx, m) == 0);
    }
}

// Frees what the WAN port was given to send.
void free_sent(const test::RingPort& wan) {
    rte_mbuf* out[64];
    for (unsigned n; (n = rte_ring_dequeue_burst(wan.tx, reinterpret_cast<void**>(out), 64, nullptr)) != 0;)
        for (unsigned i = 0; i < n; ++i) rte_pktmbuf_free(out[i]);
}

}  // namespace

TEST_CASE("a class shaped to a few Mbit/s delivers within 2% of its rate over seconds, in real time") {
    test::ensure_eal();
    auto pool = dataplane::make_packet_pool("shaped_rate", 16383, 0);
    REQUIRE(pool.ok());
    const test::RingPort lan = test::make_ring_port("shape_lan", pool->get());
    const test::RingPort wan = test::make_ring_port("shape_wan", pool->get());

    // A 100 Mbit/s link; class 1 may use 4 Mbit/s and not borrow.
    constexpr uint64_t kRateBits = 4'000'000;
    shaper::SchedulerConfig sc;
    sc.tick_hz = rte_get_tsc_hz();
    sc.packet_capacity = 4096;
    shaper::Scheduler scheduler(sc);
    REQUIRE(scheduler.apply(shaper::AddClass{klass(0, shaper::kNoParent, 100'000'000, 100'000'000)}, rte_rdtsc()).ok());
    REQUIRE(scheduler.apply(shaper::AddClass{klass(1, 0, kRateBits, kRateBits)}, rte_rdtsc()).ok());

    dataplane::Direction upload(upload_through(lan, wan, scheduler));
    std::atomic<bool> stop{false};
    dataplane::Worker worker;
    worker.directions = {&upload};
    worker.stop = &stop;
    const unsigned lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    REQUIRE(rte_eal_remote_launch(dataplane::Worker::run, &worker, lcore) == 0);

    // Offer about 8 Mbit/s of 1000-byte frames, twice the class rate.
    const test::Bytes big = udp_frame(1000);
    const uint64_t hz = rte_get_tsc_hz();
    const test::StolenTime stolen_time;
    const test::WorkerWaits worker_waits;
    const uint64_t gap = hz * 1000 * 8 / 8'000'000;
    const uint64_t warmup_end = rte_get_tsc_cycles() + hz;        // let the burst drain first
    const uint64_t end = warmup_end + 4 * hz;
    uint64_t next = rte_get_tsc_cycles();
    uint64_t bytes_out = 0, measured_from = 0;
    bool measuring = false;
    rte_mbuf* out[64];
    while (rte_get_tsc_cycles() < end) {
        const uint64_t now = rte_get_tsc_cycles();
        if (now >= next) {
            rte_mbuf* m = rte_pktmbuf_alloc(pool->get());
            REQUIRE(m != nullptr);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(big.size())), big.data(), big.size());
            if (rte_ring_enqueue(lan.rx, m) != 0) rte_pktmbuf_free(m);
            next += gap;
        }
        const unsigned n = rte_ring_dequeue_burst(wan.tx, reinterpret_cast<void**>(out), 64, nullptr);
        if (!measuring && now >= warmup_end) {
            measuring = true;
            measured_from = now;
        }
        for (unsigned i = 0; i < n; ++i) {
            if (measuring) bytes_out += rte_pktmbuf_pkt_len(out[i]);
            rte_pktmbuf_free(out[i]);
        }
    }
    const double seconds = static_cast<double>(rte_get_tsc_cycles() - measured_from) / static_cast<double>(hz);
    stop = true;
    rte_eal_wait_lcore(lcore);

    const double rate = static_cast<double>(bytes_out) * 8 / seconds;
    INFO("measured " << rate / 1e6 << " Mbit/s over " << seconds << " s");
    const bool in_bounds = rate > kRateBits * 0.98 && rate < kRateBits * 1.02;
    const double stolen = stolen_time.percent(), waited = worker_waits.percent();
    if (!in_bounds && stolen > test::StolenTime::kLimit) {
        WARN("rate not judged: the hypervisor took " << stolen << "% of the CPU time meanwhile (measured "
                                                     << rate / 1e6 << " Mbit/s)");
    } else if (!in_bounds && waited > test::WorkerWaits::kLimit) {
        WARN("rate not judged: the worker waited for its CPU " << waited << "% of the time (measured "
                                                               << rate / 1e6 << " Mbit/s)");
    } else {
        CHECK(rate > kRateBits * 0.98);
        CHECK(rate < kRateBits * 1.02);
    }
    // The excess was dropped by the class queue, and counted.
    CHECK(upload.shaper_drops(shaper::DropReason::queue_limit) > 0);
    CHECK(upload.counters().drops[static_cast<unsigned>(dataplane::DropReason::egress_queue_full)] ==
          upload.shaper_drops(shaper::DropReason::queue_limit));
}

TEST_CASE("packets a Direction's scheduler still holds at shutdown are booked as shutdown drops, in the class too") {
    test::ensure_eal();
    auto pool = dataplane::make_packet_pool("shutdown_drops", 4095, 0);
    REQUIRE(pool.ok());
    const test::RingPort lan = test::make_ring_port("stop_lan", pool->get());
    const test::RingPort wan = test::make_ring_port("stop_wan", pool->get());

    shaper::SchedulerConfig sc;
    sc.tick_hz = rte_get_tsc_hz();
    sc.packet_capacity = 1024;
    shaper::Scheduler scheduler(sc);
    REQUIRE(scheduler.apply(shaper::AddClass{klass(0, shaper::kNoParent, 100'000'000, 100'000'000)}, rte_rdtsc()).ok());
    // A CoDel leaf at 1 Mbit/s: what waits in it stands well past CoDel's
    // target, so a dequeue at shutdown would have CoDel drop it.
    shaper::ClassConfig slow = klass(1, 0, 1'000'000, 1'000'000);
    slow.leaf.kind = shaper::LeafKind::codel;
    REQUIRE(scheduler.apply(shaper::AddClass{slow}, rte_rdtsc()).ok());

    dataplane::Direction upload(upload_through(lan, wan, scheduler));
    offer(lan, pool->get(), udp_frame(1000), 100);
    // The test's thread is the direction's lcore here.
    for (int i = 0; i < 10; ++i) upload.poll();
    const uint64_t wait_until = rte_get_tsc_cycles() + rte_get_tsc_hz() / 5;  // 200 ms: two CoDel intervals
    while (rte_get_tsc_cycles() < wait_until) rte_pause();
    free_sent(wan);

    const uint32_t held = scheduler.backlog_packets();
    REQUIRE(held > 50);
    REQUIRE(upload.queued() == held);  // nothing staged: the ring took what left
    const shaper::ClassSnapshot before = *scheduler.snapshot(1);
    upload.discard();

    constexpr auto kShutdown = static_cast<size_t>(shaper::DropReason::shutdown);
    CHECK(scheduler.backlog_packets() == 0);
    CHECK(upload.counters().drops[static_cast<unsigned>(dataplane::DropReason::shutdown)] == held);
    CHECK(upload.counters().drops[static_cast<unsigned>(dataplane::DropReason::shaper)] == 0);
    CHECK(upload.shaper_drops(shaper::DropReason::shutdown) == held);
    CHECK(upload.shaper_drops(shaper::DropReason::codel) == 0);
    const shaper::ClassSnapshot after = *scheduler.snapshot(1);
    CHECK(after.counters.drops[kShutdown] == held);
    CHECK(after.counters.drop_bytes[kShutdown] == uint64_t{held} * 1000);
    CHECK(after.counters.drops[static_cast<size_t>(shaper::DropReason::codel)] == 0);
    CHECK(after.counters.packets == before.counters.packets);  // none of them counted as sent
    CHECK(scheduler.snapshot(0)->counters.drops[kShutdown] == held);  // the root's sum
    CHECK(rte_ring_count(wan.tx) == 0);
}

TEST_CASE("a turn that begins more than a millisecond after the last while packets wait counts as a stall") {
    test::ensure_eal();
    auto pool = dataplane::make_packet_pool("stalls", 4095, 0);
    REQUIRE(pool.ok());
    const test::RingPort lan = test::make_ring_port("stall_lan", pool->get());
    const test::RingPort wan = test::make_ring_port("stall_wan", pool->get());

    shaper::SchedulerConfig sc;
    sc.tick_hz = rte_get_tsc_hz();
    sc.packet_capacity = 1024;
    shaper::Scheduler scheduler(sc);
    REQUIRE(scheduler.apply(shaper::AddClass{klass(0, shaper::kNoParent, 100'000'000, 100'000'000)}, rte_rdtsc()).ok());
    // 1 Mbit/s: what is offered below waits for seconds.
    REQUIRE(scheduler.apply(shaper::AddClass{klass(1, 0, 1'000'000, 1'000'000)}, rte_rdtsc()).ok());
    dataplane::Direction upload(upload_through(lan, wan, scheduler));
    const auto pause = [](uint64_t us) {
        const uint64_t until = rte_get_tsc_cycles() + rte_get_tsc_hz() * us / 1'000'000;
        while (rte_get_tsc_cycles() < until) rte_pause();
    };
    const auto stalls = [&] { return upload.counters().stalls; };
    const auto stalled_us = [&] { return upload.counters().stalled_cycles * 1'000'000 / rte_get_tsc_hz(); };

    // Nothing waits: a long gap is an idle worker, not a stall.
    upload.poll();
    pause(5'000);
    upload.poll();
    CHECK(stalls() == 0);

    offer(lan, pool->get(), test::udp4_frame(1, 2), 100);
    for (int i = 0; i < 4; ++i) upload.poll();  // a burst of 32 a turn
    REQUIRE(upload.queued() > 50);
    // Packets wait through a 5 ms gap: one stall, at least that long.
    const uint64_t before = stalls(), before_us = stalled_us();
    pause(5'000);
    upload.poll();
    CHECK(stalls() == before + 1);
    CHECK(stalled_us() - before_us >= 5'000);
    CHECK(stalled_us() - before_us < 1'000'000);
    // Turns in a row, microseconds apart, are none (a preempted test thread
    // may add one; never more than the turns).
    const uint64_t busy_before = stalls();
    for (int i = 0; i < 100; ++i) upload.poll();
    CHECK(stalls() - busy_before <= 2);

    upload.discard();
    free_sent(wan);
}
