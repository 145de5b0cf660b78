// Two workers per direction (--workers 2) between net_ring ports with two
// queue pairs each: worker w reads LAN rx queue w and writes WAN tx queue w,
// both with the whole class tree, each owning the leaves whose id modulo 2
// is w.
//
// - Hand-off: two flows of one leaf arrive on both rx queues; every packet
//   must leave on the owner's tx queue (the other worker handed its flow
//   over, and counted it), in each flow's order, none lost.
// - Interim equal split: a shared inner class ("plan", 40 Mbit/s) has one
//   leaf on each worker, both saturated; without the split each worker's
//   copy would let 40 Mbit/s through (80 in all). The aggregate must stay
//   near 40, and after a live `set class plan` to 20 Mbit/s (published to
//   both workers' schedulers) near 20.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "classifier/table_publisher.hpp"
#include "control/runtime/policy_runtime.hpp"
#include "control/runtime/worker_share.hpp"
#include "dataplane/mempool.hpp"
#include "dataplane/pipeline/change_channel.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/direction_group.hpp"
#include "dataplane/pipeline/handoff.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "tests/support/test_eal.hpp"
#include "tests/support/frame_builder.hpp"

using namespace sluice;

namespace {

constexpr unsigned kWorkers = 2;

// A ring port with one ring per queue: the test writes rx[q] and reads tx[q].
struct MultiRingPort {
    rte_ring* rx[kWorkers];
    rte_ring* tx[kWorkers];
    uint16_t id;
};

MultiRingPort make_port(const std::string& name, rte_mempool* pool) {
    MultiRingPort p{};
    for (unsigned q = 0; q < kWorkers; ++q) {
        p.rx[q] = rte_ring_create(fmt::format("{}_rx{}", name, q).c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        p.tx[q] = rte_ring_create(fmt::format("{}_tx{}", name, q).c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        REQUIRE(p.rx[q] != nullptr);
        REQUIRE(p.tx[q] != nullptr);
    }
    const int id = rte_eth_from_rings(name.c_str(), p.rx, kWorkers, p.tx, kWorkers, 0);
    REQUIRE(id >= 0);
    p.id = static_cast<uint16_t>(id);
    rte_eth_conf conf{};
    REQUIRE(rte_eth_dev_configure(p.id, kWorkers, kWorkers, &conf) == 0);
    for (uint16_t q = 0; q < kWorkers; ++q) {
        REQUIRE(rte_eth_rx_queue_setup(p.id, q, 1024, 0, nullptr, pool) == 0);
        REQUIRE(rte_eth_tx_queue_setup(p.id, q, 1024, 0, nullptr) == 0);
    }
    REQUIRE(rte_eth_dev_start(p.id) == 0);
    return p;
}

const char* kPolicy = R"(version = 1
[upload]
rate = "10gbit"
default_class = "bulk"
[[upload.class]]
name = "plan"
rate = "40mbit"
ceil = "80mbit"
[[upload.class]]
name = "b"
parent = "plan"
rate = "10mbit"
ceil = "80mbit"
[[upload.class]]
name = "a"
parent = "plan"
rate = "10mbit"
ceil = "80mbit"
[[upload.class]]
name = "p_a"
parent = "a"
rate = "10mbit"
ceil = "80mbit"
queue = "fifo"
limit = 200
[[upload.class]]
name = "p_b"
parent = "b"
rate = "10mbit"
ceil = "80mbit"
queue = "fifo"
limit = 200
[[upload.class]]
name = "bulk"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
[[upload.class]]
name = "one"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 20000
[download]
rate = "10gbit"
[[rule]]
name = "one"
protocol = "udp"
dst_port = 6000
upload_class = "one"
[[rule]]
name = "a"
protocol = "udp"
dst_port = 7000
upload_class = "p_a"
[[rule]]
name = "b"
protocol = "udp"
dst_port = 7001
upload_class = "p_b"
)";

// A 1,000-byte UDP frame; its flow's sequence number is in the payload's first bytes.
constexpr size_t kSeqAt = 14 + 20 + 8;
test::Bytes frame(uint16_t sport, uint16_t dport) {
    return test::ethernet(0x0800, test::ipv4_datagram(test::Ipv4Spec{}, test::udp(sport, dport, test::Bytes(958, 0))));
}

struct Bridge {
    dataplane::Mempool pool;
    MultiRingPort lan, wan;
    std::unique_ptr<classifier::TablePublisher> publisher;
    std::unique_ptr<runtime::PolicyRuntime> runtime;
    std::vector<std::unique_ptr<shaper::Scheduler>> schedulers;
    std::vector<std::unique_ptr<dataplane::ChangeChannel>> channels;
    std::unique_ptr<dataplane::HandoffRings> handoff;
    std::vector<std::unique_ptr<dataplane::Direction>> directions;
    std::vector<dataplane::Worker> workers;
    std::atomic<bool> stop{false};
    std::vector<unsigned> lcores;
    std::map<std::string, uint32_t> ids;
    std::vector<uint8_t> owners;  // by scheduler id (runtime::class_owners)

    explicit Bridge(const std::string& tag) {
        // The test thread on the first CPU, worker 0 on the last, worker 1
        // beside the test thread.
        test::ensure_eal(kWorkers);
        auto p = dataplane::make_packet_pool("wk_" + tag, 32767, 0);
        REQUIRE(p.ok());
        pool = std::move(*p);
        lan = make_port("wk_lan_" + tag, pool.get());
        wan = make_port("wk_wan_" + tag, pool.get());
        const std::string path = fmt::format("/tmp/sluice-workers-{}-{}.toml", getpid(), tag);
        std::ofstream(path) << kPolicy;
        auto pub = classifier::TablePublisher::create(kWorkers);
        REQUIRE(pub.ok());
        publisher = std::move(*pub);
        runtime = std::make_unique<runtime::PolicyRuntime>(*publisher, kWorkers);
        auto loaded = runtime->load_file(path);
        std::remove(path.c_str());
        INFO((loaded ? std::string() : loaded.error()));
        REQUIRE(loaded.ok());
        const auto& tree = runtime->current()->directions[0];
        for (const auto& c : tree.classes) ids[c.name] = c.id;
        owners = runtime::class_owners(tree, {}, kWorkers);
        auto built = runtime::build_worker_schedulers(tree, rte_get_tsc_hz(), 16384, rte_rdtsc(), kWorkers);
        REQUIRE(built.ok());
        schedulers = std::move(*built);
        std::vector<const shaper::Scheduler*> views;
        std::vector<dataplane::ChangeChannel*> chans;
        for (unsigned w = 0; w < kWorkers; ++w) {
            auto ch = dataplane::ChangeChannel::create(fmt::format("wk_chg_{}_{}", tag, w));
            REQUIRE(ch.ok());
            channels.push_back(std::move(*ch));
            views.push_back(schedulers[w].get());
            chans.push_back(channels[w].get());
        }
        runtime->set_schedulers(views, {});
        runtime->set_channels(chans, {});
        // The shared classes' rebalancer, as sluiced starts it.
        auto links = runtime->start_rebalancing(100);
        INFO((links ? std::string() : links.error()));
        REQUIRE(links.ok());
        REQUIRE((*links)[0] != nullptr);
        auto h = dataplane::HandoffRings::create("wk_ho_" + tag, kWorkers, 2048);
        REQUIRE(h.ok());
        handoff = std::move(*h);
        for (unsigned w = 0; w < kWorkers; ++w) {
            dataplane::DirectionConfig cfg{"upload", lan.id, wan.id, 32, 16384, classifier::Side::lan,
                                           publisher.get()};
            cfg.scheduler = schedulers[w].get();
            cfg.default_class = tree.default_class;
            cfg.changes = channels[w].get();
            cfg.worker = w;
            cfg.rx_queue = static_cast<uint16_t>(w);
            cfg.tx_queue = static_cast<uint16_t>(w);
            cfg.handoff = handoff.get();
            cfg.share = (*links)[0];
            directions.push_back(std::make_unique<dataplane::Direction>(cfg));
        }
        workers.resize(kWorkers);
        unsigned lc = rte_lcore_id();
        for (unsigned w = 0; w < kWorkers; ++w) {
            workers[w].directions = {directions[w].get()};
            workers[w].stop = &stop;
            workers[w].tables = publisher.get();
            workers[w].reader_id = w;
            workers[w].idle = dataplane::idle_settings(100);
            lc = rte_get_next_lcore(lc, 1, 0);
            REQUIRE(lc < RTE_MAX_LCORE);
            lcores.push_back(lc);
            REQUIRE(rte_eal_remote_launch(dataplane::Worker::run, &workers[w], lc) == 0);
        }
    }

    void finish() {
        stop = true;
        for (unsigned lc : lcores) rte_eal_wait_lcore(lc);
    }

    ~Bridge() {
        if (!stop) finish();
        directions.clear();
        for (uint16_t id : {lan.id, wan.id}) {
            rte_eth_dev_stop(id);
            rte_eth_dev_close(id);
        }
    }

    // Puts a copy of `f` (with `seq` in its payload) on LAN rx queue `q`.
    bool feed(unsigned q, const test::Bytes& f, uint32_t seq) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
        if (m == nullptr) return false;
        auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())));
        std::memcpy(d, f.data(), f.size());
        std::memcpy(d + kSeqAt, &seq, sizeof seq);
        if (rte_ring_enqueue(lan.rx[q], m) == 0) return true;
        rte_pktmbuf_free(m);
        return false;
    }
};

}  // namespace

TEST_CASE("a leaf's packets from both queues reach its owner, in order", "[workers][integration]") {
    Bridge b("order");
    const uint32_t one = b.ids.at("one");
    const unsigned owner = b.owners.at(one);
    const unsigned other = 1 - owner;
    // Flow q enters on rx queue q (as RSS would put two subscribers).
    const test::Bytes flows[kWorkers] = {frame(40000, 6000), frame(40001, 6000)};
    constexpr uint32_t kPerFlow = 20'000;
    uint32_t next[kWorkers] = {}, expected[kWorkers] = {};
    uint64_t received[kWorkers] = {}, out_of_order = 0, fed = 0;
    rte_mbuf* out[64];
    auto take = [&] {
        for (unsigned q = 0; q < kWorkers; ++q) {
            const unsigned n = rte_ring_dequeue_burst(b.wan.tx[q], reinterpret_cast<void**>(out), 64, nullptr);
            for (unsigned k = 0; k < n; ++k) {
                const uint8_t* d = rte_pktmbuf_mtod(out[k], const uint8_t*);
                const unsigned flow = ((d[34] << 8) | d[35]) - 40000u;
                uint32_t seq;
                std::memcpy(&seq, d + kSeqAt, sizeof seq);
                if (flow < kWorkers) {
                    if (seq != expected[flow]) ++out_of_order;
                    expected[flow] = seq + 1;
                }
                rte_pktmbuf_free(out[k]);
            }
            received[q] += n;
        }
    };
    const uint64_t give_up = rte_get_tsc_cycles() + 60 * rte_get_tsc_hz();
    while ((next[0] < kPerFlow || next[1] < kPerFlow) && rte_get_tsc_cycles() < give_up) {
        take();
        // Fewer in flight than a hand-off ring holds: none may be lost.
        if (fed - received[0] - received[1] > 1'500) continue;
        for (unsigned q = 0; q < kWorkers; ++q) {
            if (next[q] < kPerFlow && b.feed(q, flows[q], next[q])) {
                ++next[q];
                ++fed;
            }
        }
    }
    const uint64_t settle = rte_get_tsc_cycles() + 5 * rte_get_tsc_hz();
    while (received[0] + received[1] < fed && rte_get_tsc_cycles() < settle) take();
    b.finish();
    take();

    const dataplane::DirectionGroup group("upload", {b.directions[0].get(), b.directions[1].get()});
    const auto sum = group.counters();
    INFO("fed " << fed << ", received on tx queue 0: " << received[0] << ", on 1: " << received[1]);
    CHECK(fed == 2 * kPerFlow);
    CHECK(received[owner] == fed);
    CHECK(received[other] == 0);
    CHECK(out_of_order == 0);
    CHECK(b.directions[other]->counters().handoffs_out == kPerFlow);
    CHECK(b.directions[owner]->counters().handoffs_in == kPerFlow);
    CHECK(b.directions[owner]->counters().handoffs_out == 0);
    CHECK(sum.rx_packets == fed);
    CHECK(sum.tx_packets == fed);
    CHECK(sum.drops[static_cast<unsigned>(dataplane::DropReason::handoff_ring_full)] == 0);
    CHECK(sum.dropped() == 0);
    CHECK(sum.handoffs_out == kPerFlow);
}

namespace {

// Keeps the plan's leaves p_a and p_b saturated, or only those asked for.
// Each is a subscriber (a, b) of its own under the plan; the subscribers
// are owned by different workers, so the plan is shared. A leaf belongs to
// its subscriber's worker, which for p_a is not the one its own id would
// name (dataplane::owner_of). Each leaf is fed on its owner's queue: no
// hand-off.
struct PlanLoad {
    Bridge& b;
    const test::Bytes fa = frame(41000, 7000), fb = frame(41001, 7001);
    unsigned owner_a = b.owners.at(b.ids.at("p_a"));
    unsigned owner_b = b.owners.at(b.ids.at("p_b"));
    uint64_t sent_bytes = 0;
    uint32_t seq = 0;

    void take() {
        rte_mbuf* out[64];
        for (unsigned q = 0; q < kWorkers; ++q) {
            const unsigned n = rte_ring_dequeue_burst(b.wan.tx[q], reinterpret_cast<void**>(out), 64, nullptr);
            for (unsigned k = 0; k < n; ++k) {
                sent_bytes += rte_pktmbuf_pkt_len(out[k]);
                rte_pktmbuf_free(out[k]);
            }
        }
    }
    // Brings rx queue q to 256 packets of `f`: some 25 ms of the plan's ceil.
    void top_up(unsigned q, const test::Bytes& f) {
        const unsigned have = rte_ring_count(b.lan.rx[q]);
        for (unsigned i = have; i < 256 && b.feed(q, f, seq); ++i) ++seq;
    }
    // Feeds for `seconds`; returns the aggregate rate (bit/s) over the last
    // `measure` seconds of it.
    double run(double seconds, double measure, bool feed_a = true, bool feed_b = true) {
        const uint64_t hz = rte_get_tsc_hz();
        const uint64_t t0 = rte_get_tsc_cycles();
        const uint64_t end = t0 + static_cast<uint64_t>(seconds * static_cast<double>(hz));
        const uint64_t from = end - static_cast<uint64_t>(measure * static_cast<double>(hz));
        uint64_t bytes_at_from = 0;
        bool marked = false;
        while (rte_get_tsc_cycles() < end) {
            take();
            if (!marked && rte_get_tsc_cycles() >= from) {
                bytes_at_from = sent_bytes;
                marked = true;
            }
            // Enough waiting in the rx rings to keep each leaf busy for
            // longer than this thread then sleeps: it shares a CPU with a
            // worker on a two-CPU machine, and must leave it the CPU.
            if (feed_a) top_up(owner_a, fa);
            if (feed_b) top_up(owner_b, fb);
            usleep(200);
        }
        return 8.0 * static_cast<double>(sent_bytes - bytes_at_from) / measure;
    }
};

}  // namespace

TEST_CASE("a shared class's aggregate over two workers stays within its rate", "[workers][integration]") {
    Bridge b("split");
    PlanLoad load{b};
    REQUIRE(load.owner_a != load.owner_b);  // one leaf of the plan on each worker
    REQUIRE(load.owner_a != dataplane::owner_of(b.ids.at("p_a"), kWorkers));
    const double at_80 = load.run(2.0, 1.5);
    // Live edits go to both workers' schedulers: the leaves' ceils first (a
    // child may not exceed its parent's), then the plan's.
    for (const char* name : {"p_a", "p_b", "a", "b", "plan"}) {
        control::json args{{"class", name}, {"ceil", "40mbit"}};
        auto edited = b.runtime->set_class(args);
        INFO((edited ? std::string() : edited.error()));
        REQUIRE(edited.ok());
    }
    const double at_40 = load.run(2.0, 1.5);
    // The edits changed the tree: every worker moved to a new rebalancer,
    // which lends p_b's idle share to p_a (left at an equal split, p_a
    // would have 20 Mbit/s).
    const double at_40_one = load.run(2.0, 1.5, true, false);
    b.finish();
    load.take();
    std::printf("aggregate of the plan over both workers: %.2f Mbit/s with its ceil at 80 Mbit/s, %.2f at 40\n",
                at_80 / 1e6, at_40 / 1e6);
    INFO("aggregate " << at_80 / 1e6 << " Mbit/s with the plan's ceil at 80 Mbit/s, " << at_40 / 1e6 << " at 40");
    // Each worker's copy of the plan has its share of the ceil; without the
    // division the two together would pass twice the plan's ceil (160,
    // then 80), and with the edit on one worker only, 60 after it.
    CHECK(at_80 <= 80e6 * 1.02);
    CHECK(at_80 >= 80e6 * 0.95);
    CHECK(at_40 <= 40e6 * 1.02);
    CHECK(at_40 >= 40e6 * 0.95);
    INFO("p_a alone after the edits: " << at_40_one / 1e6 << " Mbit/s");
    CHECK(at_40_one >= 40e6 * 0.95);
    CHECK(at_40_one <= 40e6 * 1.02);
    CHECK(b.directions[0]->share() != nullptr);
    CHECK(b.directions[0]->share() == b.directions[1]->share());
    CHECK(b.runtime->rebalancing(0).steps > 1000);
}

TEST_CASE("an idle worker's share of a shared class goes to the busy one", "[workers][integration]") {
    Bridge b("lend");
    PlanLoad load{b};
    REQUIRE(load.owner_a != load.owner_b);
    // All of the plan's traffic on one worker: it gets the plan's whole
    // ceil (an equal split would hold it at half, 40 Mbit/s).
    const double only_a = load.run(2.0, 1.5, true, false);
    // Then on the other: its share follows.
    const double only_b = load.run(2.0, 1.5, false, true);
    b.finish();
    load.take();
    const auto share = b.runtime->rebalancing(0);
    std::printf("the plan with traffic on one worker only: %.2f Mbit/s on worker %u, then %.2f on worker %u; "
                "%lu rebalance steps, %.2f us each\n",
                only_a / 1e6, load.owner_a, only_b / 1e6, load.owner_b, static_cast<unsigned long>(share.steps),
                share.steps ? static_cast<double>(share.step_cycles) / static_cast<double>(share.steps) * 1e6 /
                                  static_cast<double>(rte_get_tsc_hz())
                            : 0.0);
    INFO("only p_a: " << only_a / 1e6 << " Mbit/s, only p_b: " << only_b / 1e6);
    CHECK(only_a >= 80e6 * 0.95);
    CHECK(only_a <= 80e6 * 1.02);
    CHECK(only_b >= 80e6 * 0.95);
    CHECK(only_b <= 80e6 * 1.02);
    CHECK(share.refused == 0);
    const dataplane::DirectionGroup group("upload", {b.directions[0].get(), b.directions[1].get()});
    CHECK(group.counters().rebalance_changes > 0);
}

TEST_CASE("a subscriber whose packets arrive on both queues gets exactly its rate", "[workers][integration]") {
    Bridge b("both");
    PlanLoad load{b};
    // p_a's packets on both rx queues: its owner queues them all (half come
    // handed over), and the plan's ceil holds as on one worker.
    const unsigned other = 1 - load.owner_a;
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t end = rte_get_tsc_cycles() + 2 * hz, from = end - hz * 3 / 2;
    uint64_t at_from = 0;
    bool marked = false;
    while (rte_get_tsc_cycles() < end) {
        load.take();
        if (!marked && rte_get_tsc_cycles() >= from) {
            at_from = load.sent_bytes;
            marked = true;
        }
        load.top_up(load.owner_a, load.fa);
        load.top_up(other, load.fa);
        usleep(200);
    }
    const double rate = 8.0 * static_cast<double>(load.sent_bytes - at_from) / 1.5;
    b.finish();
    load.take();
    const auto& handed = b.directions[other]->counters();
    std::printf("one subscriber on both queues: %.2f Mbit/s (plan ceil 80), %lu packets handed to its owner\n",
                rate / 1e6, static_cast<unsigned long>(handed.handoffs_out));
    INFO("rate " << rate / 1e6 << " Mbit/s");
    CHECK(rate >= 80e6 * 0.95);
    CHECK(rate <= 80e6 * 1.02);
    CHECK(handed.handoffs_out > 0);
    CHECK(b.directions[load.owner_a]->counters().tx_packets > 0);
    CHECK(b.directions[other]->counters().tx_packets == 0);
}

TEST_CASE("a class no longer shared after a load gets its whole rate back on its worker", "[workers][integration]") {
    Bridge b("unshare");
    PlanLoad load{b};
    REQUIRE(load.owner_a != load.owner_b);
    // p_b's worker takes nearly all of the plan; p_a's copy of it is down
    // to its floor.
    (void)load.run(1.0, 0.5, false, true);
    // Subscriber b goes: the plan's leaves are all on p_a's worker, so the
    // plan is no longer shared, and the new rebalancer leaves it alone.
    std::string text = kPolicy;
    const auto cut = [&text](const std::string& from, const std::string& to) {
        const size_t at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.erase(at, text.find(to, at + from.size()) - at);
    };
    cut("[[upload.class]]\nname = \"b\"", "[[upload.class]]");
    cut("[[upload.class]]\nname = \"p_b\"", "[[upload.class]]");
    cut("[[rule]]\nname = \"b\"", ")");
    auto loaded = b.runtime->load({text, "without-b.toml", ""});
    INFO((loaded ? std::string() : loaded.error()));
    REQUIRE(loaded.ok());
    const double only_a = load.run(2.0, 1.5, true, false);
    b.finish();
    load.take();
    std::printf("the plan after its other subscriber went: %.2f Mbit/s on worker %u\n", only_a / 1e6, load.owner_a);
    INFO("p_a after the load: " << only_a / 1e6 << " Mbit/s");
    // Left at its old share the plan would pass next to nothing.
    CHECK(only_a >= 80e6 * 0.95);
    CHECK(only_a <= 80e6 * 1.02);
}
