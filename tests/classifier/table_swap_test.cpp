// Live rule changes: while packets flow through a forwarding lcore between
// two net_ring ports, the control thread replaces the classifier tables a
// thousand times. Each rule set re-marks to its own DSCP, so the output tells
// which set classified each packet: every packet must carry one of the two
// marks (never neither), and every packet must come out. Also what a swap
// relies on: the publication number of each tables object, and the
// side-effect-free look-up that moves queued packets to their new classes.
#include <catch2/catch.hpp>

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_ring.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "classifier/table_publisher.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "dataplane/mempool.hpp"
#include "dataplane/parser.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/ring_port.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice;
using namespace sluice::classifier;

namespace {

std::shared_ptr<const ClassifierTables> remark_all_udp_to(uint8_t dscp) {
    ClassifierSpec spec;
    RuleSpec udp;
    udp.protocol = 17;  // a multi-field rule: the swap replaces rte_acl tries
    spec.rules.push_back(udp);
    RuleAction a;
    a.set_dscp = dscp;
    a.class_id[0] = 1;
    spec.actions.push_back(a);
    spec.class_count[0] = spec.class_count[1] = 2;
    auto t = ClassifierTables::compile(spec, rte_rdtsc());
    REQUIRE(t.ok());
    return *t;
}

}  // namespace

TEST_CASE("rules replaced a thousand times while packets flow: each packet is classified by the old or the new set, none lost") {
    test::ensure_eal();
    REQUIRE(rte_lcore_count() >= 2);
    auto pool = dataplane::make_packet_pool("swap_test", 16383, 0);
    REQUIRE(pool.ok());
    const test::RingPort lan = test::make_ring_port("swap_lan", pool->get());
    const test::RingPort wan = test::make_ring_port("swap_wan", pool->get());

    auto publisher = TablePublisher::create(4);
    REQUIRE(publisher.ok());
    constexpr uint8_t kMarkA = 10, kMarkB = 20;
    (*publisher)->publish(remark_all_udp_to(kMarkA));

    dataplane::Direction upload({"upload", lan.id, wan.id, 32, 4096, Side::lan, publisher->get()});
    std::atomic<bool> stop{false};
    dataplane::Worker worker;
    worker.directions = {&upload};
    worker.stop = &stop;
    worker.tables = publisher->get();
    worker.reader_id = 0;
    const unsigned lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    REQUIRE(rte_eal_remote_launch(dataplane::Worker::run, &worker, lcore) == 0);

    const test::Bytes frame = test::udp4_frame(4000, 5000, 0x01);  // DSCP 0, ECN 1
    uint64_t sent = 0, received = 0, mark_a = 0, mark_b = 0, unmarked = 0;
    rte_mbuf* burst[64];
    auto drain_output = [&] {
        const unsigned n = rte_ring_dequeue_burst(wan.tx, reinterpret_cast<void**>(burst), 64, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            dataplane::PacketMeta m;
            dataplane::parse_frame(rte_pktmbuf_mtod(burst[i], const uint8_t*), rte_pktmbuf_data_len(burst[i]), m);
            if (m.dscp() == kMarkA) ++mark_a;
            else if (m.dscp() == kMarkB) ++mark_b;
            else ++unmarked;
            CHECK(m.ecn() == 1);
            rte_pktmbuf_free(burst[i]);
        }
        received += n;
    };

    for (int swap = 1; swap <= 1000; ++swap) {
        // A swap, then packets while earlier ones may still be in flight.
        (*publisher)->publish(remark_all_udp_to(swap % 2 ? kMarkB : kMarkA));
        for (int k = 0; k < 2; ++k) {
            unsigned n = 0;
            for (; n < 32; ++n) {
                burst[n] = rte_pktmbuf_alloc(pool->get());
                REQUIRE(burst[n] != nullptr);
                std::memcpy(rte_pktmbuf_append(burst[n], static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
            }
            const unsigned queued = rte_ring_enqueue_burst(lan.rx, reinterpret_cast<void**>(burst), n, nullptr);
            for (unsigned i = queued; i < n; ++i) rte_pktmbuf_free(burst[i]);
            sent += queued;
            drain_output();
        }
    }
    // Let the last packets through, then stop.
    const uint64_t until = rte_get_timer_cycles() + rte_get_timer_hz() * 5;
    while (received < sent && rte_get_timer_cycles() < until) drain_output();
    stop = true;
    rte_eal_wait_lcore(lcore);
    drain_output();

    CHECK(sent > 30000);
    CHECK(received == sent);
    CHECK(unmarked == 0);
    CHECK(mark_a > 0);
    CHECK(mark_b > 0);
    CHECK(upload.counters().dropped() == 0);
    CHECK(upload.counters().tx_packets == sent);
    // The class counters of the final tables saw the packets classified by them.
    const auto final_tables = (*publisher)->current_owned();
    CHECK(final_tables->runtime(Direction::upload).class_packets[1] > 0);
    CHECK(final_tables->runtime(Direction::upload).class_packets[0] == 0);
}

TEST_CASE("a second look-up of queued packets gives process()'s classes and counts, polices and marks nothing",
          "[classifier][tree-change]") {
    test::ensure_eal();
    auto pool = dataplane::make_packet_pool("lookup_test", 1023, 0);
    REQUIRE(pool.ok());
    ClassifierSpec spec;
    RuleSpec udp;
    udp.protocol = 17;
    udp.dst_ports = {{5000, 5000}};
    RuleSpec tcp;
    tcp.protocol = 6;
    spec.rules = {udp, tcp};
    RuleAction to_one;
    to_one.class_id[0] = 1;
    to_one.set_dscp = 10;
    RuleAction to_two;
    to_two.class_id[0] = 2;
    spec.actions = {to_one, to_two};
    spec.class_count[0] = spec.class_count[1] = 3;
    spec.egress_class[0] = {70, 71, 72};  // the scheduler's ids of classes 0..2
    auto tables = ClassifierTables::compile(spec, rte_rdtsc());
    REQUIRE(tables.ok());

    const std::vector<test::Bytes> frames = {test::udp4_frame(4000, 5000), test::udp4_frame(4000, 5001),
                                             test::tcp4_frame(4000, 80), test::arp_request()};
    const size_t n = frames.size();
    rte_mbuf* pkts[4];
    dataplane::PacketMeta meta[4];
    for (size_t i = 0; i < n; ++i) {
        pkts[i] = rte_pktmbuf_alloc(pool->get());
        REQUIRE(pkts[i] != nullptr);
        std::memcpy(rte_pktmbuf_append(pkts[i], static_cast<uint16_t>(frames[i].size())), frames[i].data(),
                    frames[i].size());
        dataplane::parse_frame(rte_pktmbuf_mtod(pkts[i], const uint8_t*), rte_pktmbuf_data_len(pkts[i]), meta[i]);
    }
    ClassifyStage stage(Side::lan);
    uint32_t looked_up[4];
    stage.classes_of(**tables, meta, static_cast<uint32_t>(n), looked_up);
    CHECK(std::vector<uint32_t>(looked_up, looked_up + n) == std::vector<uint32_t>{71, 70, 72, 70});
    // Nothing counted, nothing re-marked.
    const DirectionRuntime& rt = (*tables)->runtime(Direction::upload);
    CHECK(rt.rule_hits == std::vector<uint64_t>{0, 0});
    CHECK(rt.default_hits == 0);
    for (size_t i = 0; i < n; ++i)
        CHECK(std::memcmp(rte_pktmbuf_mtod(pkts[i], const uint8_t*), frames[i].data(), frames[i].size()) == 0);

    uint32_t classified[4];
    rte_mbuf* dropped[4];
    const auto r = stage.process(**tables, pkts, meta, classified, static_cast<uint32_t>(n), rte_rdtsc(), dropped);
    REQUIRE(r.kept == n);
    CHECK(std::vector<uint32_t>(classified, classified + n) == std::vector<uint32_t>(looked_up, looked_up + n));
    for (size_t i = 0; i < n; ++i) rte_pktmbuf_free(pkts[i]);
}

TEST_CASE("each worker of a direction counts and polices in its own state; the counts sum them",
          "[classifier][workers]") {
    test::ensure_eal();
    auto pool = dataplane::make_packet_pool("workers_state_test", 1023, 0);
    REQUIRE(pool.ok());
    ClassifierSpec spec;
    RuleSpec udp;
    udp.protocol = 17;
    spec.rules = {udp};
    RuleAction to_one;
    to_one.class_id[0] = 1;
    spec.actions = {to_one};
    spec.class_count[0] = spec.class_count[1] = 2;
    spec.workers = 2;
    auto tables = ClassifierTables::compile(spec, rte_rdtsc());
    REQUIRE(tables.ok());
    REQUIRE((*tables)->workers() == 2);

    // Worker 1's stage writes worker 1's state only.
    const auto frame = test::udp4_frame(4000, 5000);
    auto classify_on = [&](unsigned worker, uint32_t count) {
        ClassifyStage stage(Side::lan, worker);
        for (uint32_t i = 0; i < count; ++i) {
            rte_mbuf* m = rte_pktmbuf_alloc(pool->get());
            REQUIRE(m != nullptr);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
            dataplane::PacketMeta meta;
            dataplane::parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m), meta);
            uint32_t cls;
            rte_mbuf* dropped;
            REQUIRE(stage.process(**tables, &m, &meta, &cls, 1, rte_rdtsc(), &dropped).kept == 1);
            rte_pktmbuf_free(m);
        }
    };
    classify_on(1, 3);
    CHECK((*tables)->runtime(Direction::upload, 0).rule_hits[0] == 0);
    CHECK((*tables)->runtime(Direction::upload, 1).rule_hits[0] == 3);
    classify_on(0, 2);
    CHECK((*tables)->runtime(Direction::upload, 0).rule_hits[0] == 2);
    const DirectionRuntime sum = (*tables)->counts(Direction::upload);
    CHECK(sum.rule_hits[0] == 5);
    CHECK(sum.class_packets[1] == 5);
    CHECK(sum.class_bytes[1] == 5 * frame.size());
}

TEST_CASE("each publication numbers its tables; the current tables published again keep their number",
          "[classifier][tree-change]") {
    test::ensure_eal();
    auto publisher = TablePublisher::create(1);
    REQUIRE(publisher.ok());
    const auto a = remark_all_udp_to(1);
    const auto b = remark_all_udp_to(2);
    CHECK(a->generation() == 0);
    (*publisher)->publish(a);
    CHECK(a->generation() == 1);
    (*publisher)->publish(b);
    CHECK(b->generation() == 2);
    (*publisher)->publish(b);
    CHECK(b->generation() == 2);
    (*publisher)->publish(a);
    CHECK(a->generation() == 3);
}
