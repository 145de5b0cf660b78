// Class trees changed live under traffic lose no packet and keep every flow
// in order: a worker lcore runs the upload direction (parse, classify,
// shape, transmit) between two net_ring ports while the test feeds it frames
// for ten UDP ports, each a flow with sequence numbers, and a control thread
// loads two policies in turn, forty times. One keeps classes c0..c9 for the
// ports; the other keeps c0..c4, removes c5..c9 and adds d5..d9 in their
// place. Every frame fed in must come out, in its flow's order (the packets
// of a removed class go to their flow's new class ahead of its newer ones);
// nothing may be dropped, and the classes of the last policy must be the
// ones sending.
#include <catch2/catch.hpp>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "classifier/table_publisher.hpp"
#include "dataplane/pipeline/change_channel.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "control/runtime/policy_runtime.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "dataplane/mempool.hpp"
#include "control/runtime/shaper_config.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/ring_port.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice;

namespace {

// Ten leaf classes, one per UDP port 5000..5009, named c<i> or, from
// `renamed_from` on, d<i>, each capped at 20 Mbit/s: the test keeps 4,000
// frames in flight, so every class holds a standing queue when it is
// removed, while no queue comes near its limit: any loss is the change's.
std::string policy_text(int renamed_from) {
    std::string t = "version = 1\n[upload]\nrate = \"10gbit\"\ndefault_class = \"bulk\"\n"
                    "[[upload.class]]\nname = \"bulk\"\nrate = \"1gbit\"\nceil = \"10gbit\"\nqueue = \"fifo\"\nlimit = 10000\n";
    auto name = [&](int i) { return std::string(i >= renamed_from ? "d" : "c") + std::to_string(i); };
    for (int i = 0; i < 10; ++i) {
        t += "[[upload.class]]\nname = \"" + name(i) +
             "\"\nrate = \"10mbit\"\nceil = \"20mbit\"\nqueue = \"fifo\"\nlimit = 10000\n";
    }
    t += "[download]\nrate = \"10gbit\"\n";
    for (int i = 0; i < 10; ++i) {
        t += "[[rule]]\nname = \"p" + std::to_string(5000 + i) + "\"\nprotocol = \"udp\"\ndst_port = " +
             std::to_string(5000 + i) + "\nupload_class = \"" + name(i) + "\"\n";
    }
    return t;
}

std::string write_file(const std::string& name, const std::string& text) {
    const std::string path = "/tmp/sluice-tree-traffic-" + std::to_string(getpid()) + "-" + name;
    std::ofstream(path) << text;
    return path;
}

}  // namespace

TEST_CASE("class trees changed under traffic lose no packet", "[tree-change][integration]") {
    test::ensure_eal();
    auto pool = dataplane::make_packet_pool("tree_traffic", 16383, 0);
    REQUIRE(pool.ok());
    const test::RingPort lan = test::make_ring_port("tree_lan", pool->get());
    const test::RingPort wan = test::make_ring_port("tree_wan", pool->get());

    const std::string file_a = write_file("a.toml", policy_text(10));
    const std::string file_b = write_file("b.toml", policy_text(5));
    auto publisher = classifier::TablePublisher::create(1);
    REQUIRE(publisher.ok());
    runtime::PolicyRuntime runtime(**publisher);
    auto loaded = runtime.load_file(file_a);
    INFO((loaded ? std::string() : loaded.error()));
    REQUIRE(loaded.ok());
    const auto& tree = runtime.current()->directions[0];
    auto built = runtime::build_scheduler(tree, rte_get_tsc_hz(), 16384, rte_rdtsc());
    REQUIRE(built.ok());
    std::unique_ptr<shaper::Scheduler> scheduler = std::move(*built);
    auto channel = dataplane::ChangeChannel::create("tree_traffic_changes");
    REQUIRE(channel.ok());
    runtime.set_schedulers(scheduler.get(), nullptr);
    runtime.set_channels(channel->get(), nullptr);

    dataplane::DirectionConfig cfg{"upload", lan.id, wan.id, 32, 16384, classifier::Side::lan, publisher->get()};
    cfg.scheduler = scheduler.get();
    cfg.default_class = tree.default_class;
    cfg.changes = channel->get();
    dataplane::Direction upload(cfg);
    std::atomic<bool> stop{false};
    dataplane::Worker worker;
    worker.directions = {&upload};
    worker.stop = &stop;
    worker.tables = publisher->get();
    const unsigned lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    REQUIRE(rte_eal_remote_launch(dataplane::Worker::run, &worker, lcore) == 0);

    // The control side: 40 loads, alternating, while the frames flow.
    std::atomic<bool> control_done{false};
    std::atomic<int> loads_ok{0};
    std::string load_error;
    std::thread control([&] {
        for (int i = 0; i < 40; ++i) {
            auto r = runtime.load_file(i % 2 == 0 ? file_b : file_a);
            if (!r) {
                load_error = r.error();
                break;
            }
            ++loads_ok;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        control_done = true;
    });

    std::vector<test::Bytes> frames;
    for (uint16_t i = 0; i < 10; ++i) frames.push_back(test::udp4_frame(static_cast<uint16_t>(40000 + i), 5000 + i));
    // Each frame carries its flow's sequence number in the first bytes of
    // its UDP payload (the bridge reads no checksum).
    constexpr size_t kSeqAt = 14 + 20 + 8, kPortAt = 14 + 20 + 2;
    uint32_t next_seq[10] = {};
    uint32_t expected[10] = {};
    uint64_t fed = 0, received = 0, out_of_order = 0;
    rte_mbuf* out[64];
    auto take = [&] {
        const unsigned n = rte_ring_dequeue_burst(wan.tx, reinterpret_cast<void**>(out), 64, nullptr);
        for (unsigned k = 0; k < n; ++k) {
            const uint8_t* d = rte_pktmbuf_mtod(out[k], const uint8_t*);
            const unsigned flow = ((d[kPortAt] << 8) | d[kPortAt + 1]) - 5000u;
            uint32_t seq;
            std::memcpy(&seq, d + kSeqAt, sizeof seq);
            if (flow < 10) {
                if (seq != expected[flow]) ++out_of_order;
                expected[flow] = std::max(expected[flow], seq + 1);
            }
            rte_pktmbuf_free(out[k]);
        }
        received += n;
    };
    // Frames flow all through the changes, and for 20,000 more after the
    // last one, so the final tree carries traffic too.
    constexpr uint64_t kInFlight = 4'000;
    const uint64_t give_up = rte_get_tsc_cycles() + 60 * rte_get_tsc_hz();
    uint64_t stop_at = UINT64_MAX;
    while (fed < stop_at && rte_get_tsc_cycles() < give_up) {
        if (stop_at == UINT64_MAX && control_done.load()) stop_at = fed + 20'000;
        take();
        if (fed - received >= kInFlight) continue;
        rte_mbuf* m = rte_pktmbuf_alloc(pool->get());
        if (m != nullptr) {
            const size_t flow = fed % frames.size();
            const test::Bytes& f = frames[flow];
            auto* d = rte_pktmbuf_mtod_offset(m, uint8_t*, 0);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
            std::memcpy(d + kSeqAt, &next_seq[flow], sizeof next_seq[flow]);
            if (rte_ring_enqueue(lan.rx, m) == 0) {
                ++next_seq[flow];
                ++fed;
            } else {
                rte_pktmbuf_free(m);
            }
        }
    }
    control.join();
    const uint64_t settle = rte_get_tsc_cycles() + 5 * rte_get_tsc_hz();
    while (received < fed && rte_get_tsc_cycles() < settle) take();
    const auto stats = runtime.counters()["upload"]["classes"];
    stop = true;
    rte_eal_wait_lcore(lcore);
    take();
    std::remove(file_a.c_str());
    std::remove(file_b.c_str());

    INFO("load error: " << load_error);
    CHECK(loads_ok.load() == 40);
    CHECK(received == fed);
    INFO(upload.rehomed_packets() << " packets moved from removed classes to their flows' new classes");
    CHECK(out_of_order == 0);
    CHECK(upload.rehomed_packets() > 0);  // the removed classes did hold packets
    uint64_t drops = 0;
    for (uint64_t d : upload.counters().drops) drops += d;
    CHECK(drops == 0);
    INFO("fed " << fed << " frames, received " << received);
    // The last load was the first file again: c5..c9 are back, and send.
    size_t sending = 0;
    for (const auto& c : stats) {
        const std::string name = c["name"];
        CHECK(name.front() != 'd');
        if (name.front() == 'c' && c.value("sent_packets", uint64_t{0}) > 0) ++sending;
    }
    CHECK(sending == 10);
}
