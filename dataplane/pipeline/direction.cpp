#include "dataplane/pipeline/direction.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dataplane/parser.hpp"

#include <cstring>

namespace sluice::dataplane {
namespace {
// How many packets ahead the receive loop prefetches headers.
constexpr uint32_t kPrefetchAhead = 4;
}  // namespace

Direction::Direction(const DirectionConfig& cfg)
    : cfg_(cfg), queue_(cfg.queue_packets), classify_(cfg.ingress_side, cfg.worker) {
    share_ = cfg.share;
    stall_cycles_ = rte_get_tsc_hz() * kStallGapUs / 1'000'000;
    if (cfg_.burst > kMaxBurst) cfg_.burst = kMaxBurst;
    if (cfg_.scheduler) cfg_.scheduler->set_drop_handler(&Direction::on_shaper_drop, this);
    // Hand-offs need classes to own; without a scheduler each worker keeps what it receives.
    if (cfg_.handoff != nullptr && (cfg_.scheduler == nullptr || cfg_.handoff->workers() <= 1)) cfg_.handoff = nullptr;
    if (cfg_.handoff != nullptr) outbound_.resize(size_t{cfg_.handoff->workers()} * kMaxBurst);
}

Direction::~Direction() { discard(); }

void Direction::on_shaper_drop(void* self, const shaper::Packet& p, shaper::DropReason why) {
    auto* d = static_cast<Direction*>(self);
    ++d->shaper_drops_[static_cast<unsigned>(why)];
    DropReason mine = DropReason::shaper;
    if (why == shaper::DropReason::queue_limit || why == shaper::DropReason::pool_exhausted)
        mine = DropReason::egress_queue_full;
    else if (why == shaper::DropReason::shutdown)
        mine = DropReason::shutdown;
    d->drop(reinterpret_cast<rte_mbuf*>(p.handle), mine);
}

namespace {
// A 5-tuple hash for fq_codel's flow queues; any well-mixed hash will do.
uint32_t flow_hash(const PacketMeta& m) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ m.l4_proto;
    auto mix = [&h](uint64_t v) {
        h ^= v;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    };
    uint64_t a, b;
    std::memcpy(&a, m.src_addr, 8);
    std::memcpy(&b, m.src_addr + 8, 8);
    mix(a);
    mix(b);
    std::memcpy(&a, m.dst_addr, 8);
    std::memcpy(&b, m.dst_addr + 8, 8);
    mix(a);
    mix(b);
    mix((static_cast<uint64_t>(m.src_port) << 16) | m.dst_port);
    return static_cast<uint32_t>(h);
}
}  // namespace

void Direction::drop(rte_mbuf* m, DropReason why) {
    ++counters_.drops[static_cast<unsigned>(why)];
    rte_pktmbuf_free(m);
}

uint32_t Direction::transmit_shaped(uint64_t now) {
    // What the port refused last time goes first, then what the scheduler
    // releases now, up to a burst.
    uint32_t n = staged_;
    for (uint32_t i = 0; i < n; ++i) tx_[i] = staging_[i];
    if (n < cfg_.burst) {
        const uint32_t got = cfg_.scheduler->dequeue_burst(shaped_, cfg_.burst - n, now);
        clock_.stop(Stage::dequeue);
        for (uint32_t i = 0; i < got; ++i) tx_[n + i] = reinterpret_cast<rte_mbuf*>(shaped_[i].handle);
        n += got;
    }
    if (n == 0) return 0;
    const uint32_t sent = send_shaped(n);
    clock_.stop(Stage::tx);
    return sent;
}

uint32_t Direction::tx_counted(uint32_t n) {
    // The driver may free an mbuf as soon as it takes it: read lengths first.
    for (uint32_t i = 0; i < n; ++i) tx_len_[i] = rte_pktmbuf_pkt_len(tx_[i]);
    const uint16_t sent = rte_eth_tx_burst(cfg_.egress_port, cfg_.tx_queue, tx_, static_cast<uint16_t>(n));
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < sent; ++i) bytes += tx_len_[i];
    counters_.tx_packets += sent;
    counters_.tx_bytes += bytes;
    return sent;
}

uint32_t Direction::send_shaped(uint32_t n) {
    const uint32_t sent = tx_counted(n);
    staged_ = n - sent;
    for (uint32_t i = 0; i < staged_; ++i) staging_[i] = tx_[sent + i];
    if (staged_) ++counters_.tx_retries;
    return sent;
}

uint32_t Direction::transmit(uint64_t now) {
    if (cfg_.scheduler) return transmit_shaped(now);
    const uint32_t n = queue_.peek(tx_, cfg_.burst);
    clock_.stop(Stage::dequeue);
    if (n == 0) return 0;
    const uint32_t sent = tx_counted(n);
    queue_.pop(sent);
    // What the port did not take stays at the head of the queue, in order.
    if (sent < n) ++counters_.tx_retries;
    clock_.stop(Stage::tx);
    return sent;
}

uint32_t Direction::receive(uint64_t now) {
    // Without a scheduler, take from the port only what the queue can hold:
    // when the egress port is slower, packets wait in the ingress ring (the
    // port counts them as missed if it overflows) rather than being received
    // and thrown away. With one, the class queues decide what to keep.
    if (!cfg_.scheduler && queue_.free_space() < cfg_.burst) return 0;
    // Likewise with several workers: a burst is received only when every
    // ring to another worker has room for it, so an owner that falls
    // behind slows its senders' ports rather than making them drop what
    // they already parsed and classified.
    if (cfg_.handoff != nullptr && !handoff_room()) return 0;
    const uint16_t n = rte_eth_rx_burst(cfg_.ingress_port, cfg_.rx_queue, rx_, static_cast<uint16_t>(cfg_.burst));
    clock_.stop(Stage::rx);
    if (n == 0) return 0;

    for (uint32_t i = 0; i < n && i < kPrefetchAhead; ++i) rte_prefetch0(rte_pktmbuf_mtod(rx_[i], void*));
    uint32_t kept = 0;
    uint32_t own = 0;
    uint64_t bytes = 0;
    const ManagementMatch* management = management_;
    for (uint32_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(rx_[i + kPrefetchAhead], void*));
        rte_mbuf* m = rx_[i];
        bytes += rte_pktmbuf_pkt_len(m);
        PacketMeta& meta = meta_[kept];
        const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
        parse_frame(data, rte_pktmbuf_data_len(m), rte_pktmbuf_pkt_len(m), meta);
        if (meta.malformed()) {
            ++counters_.malformed_by_error[static_cast<unsigned>(meta.error)];
            drop(m, DropReason::malformed);
            continue;
        }
        // The gateway's own frames go to its kernel, not through the pipeline.
        if (management != nullptr && management->matches(meta, data, rte_pktmbuf_data_len(m))) {
            if (cfg_.ingress_tap != nullptr) {
                kernel_[own++] = m;
            } else {
                ++counters_.kernel_copies;
                rte_pktmbuf_free(m);
            }
            continue;
        }
        if (!meta.is_ip()) ++counters_.non_ip_packets;
        rx_[kept++] = m;
    }
    if (own != 0) cfg_.ingress_tap->to_kernel(kernel_, own);
    counters_.rx_packets += n;
    counters_.rx_bytes += bytes;
    clock_.stop(Stage::parse);

    // The tables pointer is read once per turn (poll); the worker reports
    // a quiescent state only after the turn is done with it.
    const classifier::ClassifierTables* tables = tables_;
    if (tables != nullptr && kept != 0) {
        const auto r = classify_.process(*tables, rx_, meta_, class_, kept, now, dropped_);
        for (uint32_t i = 0; i < r.dropped; ++i) {
            // Policed packets show in their class's drops too, as `meter`.
            if (cfg_.scheduler) {
                cfg_.scheduler->count_drop(classify_.dropped_classes()[i], shaper::DropReason::meter,
                                           rte_pktmbuf_pkt_len(dropped_[i]));
            }
            rte_pktmbuf_free(dropped_[i]);
        }
        counters_.drops[static_cast<unsigned>(DropReason::meter_yellow)] += r.dropped_yellow;
        counters_.drops[static_cast<unsigned>(DropReason::meter_red)] += r.dropped - r.dropped_yellow;
        kept = r.kept;
    } else {
        for (uint32_t i = 0; i < kept; ++i) class_[i] = cfg_.default_class;
    }
    clock_.stop(Stage::classify);

    if (cfg_.scheduler) {
        // Only fq_codel leaves read the flow hash: spare it otherwise.
        const bool hash = cfg_.scheduler->needs_flow_hash();
        for (uint32_t i = 0; i < kept; ++i) {
            shaped_[i] = shaper::Packet{reinterpret_cast<uint64_t>(rx_[i]), meta_[i].frame_len,
                                        hash ? flow_hash(meta_[i]) : 0};
        }
        if (cfg_.handoff != nullptr) kept = hand_off(kept);
        enqueue_shaped(class_, shaped_, kept, now);
        return n;
    }

    const uint32_t queued = queue_.push(rx_, kept);
    for (uint32_t i = queued; i < kept; ++i) drop(rx_[i], DropReason::egress_queue_full);
    clock_.stop(Stage::enqueue);
    return n;
}

void Direction::enqueue_shaped(uint32_t* classes, shaper::Packet* packets, uint32_t n, uint64_t now) {
    // Drops (queue limits, CoDel) come back through on_shaper_drop.
    if (staged_ != 0) {
        // Packets the port refused are ahead of these: all of them queue.
        cfg_.scheduler->enqueue_burst(classes, packets, n, now);
        clock_.stop(Stage::enqueue);
        return;
    }
    // What the scheduler would release at once leaves in this turn,
    // without a trip through the class queues.
    const uint32_t pass = cfg_.scheduler->enqueue_or_pass_burst(classes, packets, n, now, passed_);
    clock_.stop(Stage::enqueue);
    if (pass != 0) {
        for (uint32_t i = 0; i < pass; ++i) tx_[i] = reinterpret_cast<rte_mbuf*>(passed_[i].handle);
        send_shaped(pass);
        clock_.stop(Stage::tx);
    }
}

uint32_t Direction::hand_off(uint32_t n) {
    const unsigned workers = cfg_.handoff->workers();
    const unsigned self = cfg_.worker;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; ++i) {
        unsigned owner = tables_ != nullptr ? tables_->owner(classify_.direction(), class_[i])
                                            : classifier::ClassifierTables::kNoOwner;
        if (owner >= workers) owner = owner_of(class_[i], workers);
        if (owner == self) {
            class_[kept] = class_[i];
            shaped_[kept++] = shaped_[i];
            continue;
        }
        outbound_[owner * kMaxBurst + outbound_len_[owner]++] =
            HandoffItem{reinterpret_cast<rte_mbuf*>(shaped_[i].handle), class_[i], shaped_[i].flow_hash};
    }
    for (unsigned w = 0; w < workers; ++w) {
        const uint32_t len = outbound_len_[w];
        if (len == 0) continue;
        outbound_len_[w] = 0;
        HandoffItem* items = &outbound_[w * kMaxBurst];
        const uint32_t sent =
            rte_ring_sp_enqueue_burst_elem(cfg_.handoff->ring(self, w), items, sizeof(HandoffItem), len, nullptr);
        counters_.handoffs_out += sent;
        for (uint32_t i = sent; i < len; ++i) drop(items[i].mbuf, DropReason::handoff_ring_full);
    }
    return kept;
}

bool Direction::handoff_room() const {
    for (unsigned w = 0; w < cfg_.handoff->workers(); ++w) {
        if (w != cfg_.worker && rte_ring_free_count(cfg_.handoff->ring(cfg_.worker, w)) < cfg_.burst) return false;
    }
    return true;
}

uint32_t Direction::take_handoffs(uint64_t now) {
    const unsigned workers = cfg_.handoff->workers();
    uint32_t total = 0;
    for (unsigned w = 0; w < workers; ++w) {
        if (w == cfg_.worker) continue;
        const uint32_t got = rte_ring_sc_dequeue_burst_elem(cfg_.handoff->ring(w, cfg_.worker), inbound_,
                                                            sizeof(HandoffItem), cfg_.burst, nullptr);
        if (got == 0) continue;
        for (uint32_t i = 0; i < got; ++i) {
            in_class_[i] = inbound_[i].class_id;
            shaped_[i] = shaper::Packet{reinterpret_cast<uint64_t>(inbound_[i].mbuf),
                                        rte_pktmbuf_pkt_len(inbound_[i].mbuf), inbound_[i].flow_hash};
        }
        counters_.handoffs_in += got;
        enqueue_shaped(in_class_, shaped_, got, now);
        total += got;
    }
    return total;
}

void Direction::reclassify(void* self, shaper::Packet* packets, uint32_t n, uint32_t* class_ids) {
    auto* d = static_cast<Direction*>(self);
    // The frames are parsed again (the metadata of their first pass is
    // gone) and looked up in the new tables; they are not counted, policed
    // or marked a second time.
    for (uint32_t i = 0; i < n; ++i) {
        rte_mbuf* m = reinterpret_cast<rte_mbuf*>(packets[i].handle);
        parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m), rte_pktmbuf_pkt_len(m),
                    d->meta_[i]);
    }
    d->classify_.classes_of(*d->tables_, d->meta_, n, class_ids);
    const bool hash = d->cfg_.scheduler->needs_flow_hash();
    for (uint32_t i = 0; i < n; ++i) {
        // Malformed frames were never queued; should one be, it stays put.
        if (d->meta_[i].malformed()) class_ids[i] = shaper::Scheduler::kNoClass;
        packets[i].flow_hash = hash ? flow_hash(d->meta_[i]) : 0;
    }
}

void Direction::adopt_tables(const classifier::ClassifierTables* tables, uint64_t now) {
    tables_ = tables;
    if (tables == nullptr || tables->generation() == tables_generation_) return;
    tables_generation_ = tables->generation();
    shaper::Scheduler* s = cfg_.scheduler;
    if (s == nullptr) return;
    queued_classes_.clear();
    s->queued_classes(queued_classes_);
    if (queued_classes_.empty()) return;
    // The classes the new tables send packets to; the others are being
    // removed by the load that published them (after this turn at the
    // earliest: removals come once every worker has moved to the tables).
    const auto dir = classify_.direction();
    const uint32_t count = tables->class_count(dir);
    named_.clear();
    for (uint32_t c = 0; c < count; ++c) {
        const uint32_t id = tables->egress_class(dir, c);
        if (id >= named_.size()) named_.resize(size_t{id} + 1, 0);
        named_[id] = 1;
    }
    for (const uint32_t id : queued_classes_) {
        if (id < named_.size() && named_[id]) continue;
        rehomed_packets_ += s->move_queued(id, &Direction::reclassify, this, now);
    }
}

uint32_t Direction::poll() {
    // The clock is read once per turn; every stage of the turn uses it.
    const uint64_t now = rte_rdtsc();
    // What waited through a long gap since the last turn tells how often,
    // and for how long, the host kept this worker from its packets.
    if (now - last_turn_ > stall_cycles_ && last_turn_ != 0 && queued() != 0) [[unlikely]] {
        ++counters_.stalls;
        counters_.stalled_cycles += now - last_turn_;
    }
    last_turn_ = now;
    // So are the classifier tables: new ones are adopted before the
    // changes that follow them (a load's removals) are served, and before
    // any packet is classified by them.
    if (cfg_.tables != nullptr) adopt_tables(cfg_.tables->current(), now);
    // Changes are applied between bursts, by this lcore: the scheduler's only writer.
    if (cfg_.changes != nullptr) cfg_.changes->serve(*cfg_.scheduler, now, share_, cfg_.worker);
    // So are the local rates of the shared classes (several workers).
    if (share_ != nullptr) counters_.rebalance_changes += share_->turn(cfg_.worker, *cfg_.scheduler, now);
    // Read once per turn too; the worker's quiescent state after the turn
    // releases it.
    if (cfg_.management != nullptr) management_ = cfg_.management->current();
    clock_.start();
    // The gateway's own frames leave first: they are few and not shaped.
    const uint32_t own = cfg_.egress_tap ? cfg_.egress_tap->from_kernel(cfg_.egress_port, kernel_, cfg_.burst) : 0;
    const uint32_t sent = transmit(now);
    const uint32_t taken = cfg_.handoff != nullptr ? take_handoffs(now) : 0;
    const uint32_t moved = own + sent + taken + receive(now);
    if (moved != 0) counters_.busy_cycles += rte_rdtsc() - now;
    return moved;
}

bool Direction::flush() {
    const uint64_t now = rte_rdtsc();
    // What other workers handed over before they stopped receiving leaves too.
    if (cfg_.handoff != nullptr) take_handoffs(now);
    transmit(now);
    return cfg_.scheduler ? staged_ == 0 && cfg_.scheduler->backlog_packets() == 0 : queue_.empty();
}

void Direction::discard() {
    if (cfg_.handoff != nullptr) {
        for (unsigned w = 0; w < cfg_.handoff->workers(); ++w) {
            if (w == cfg_.worker) continue;
            uint32_t got;
            while ((got = rte_ring_sc_dequeue_burst_elem(cfg_.handoff->ring(w, cfg_.worker), inbound_,
                                                         sizeof(HandoffItem), kMaxBurst, nullptr)) != 0) {
                for (uint32_t i = 0; i < got; ++i) drop(inbound_[i].mbuf, DropReason::shutdown);
            }
        }
    }
    for (uint32_t i = 0; i < staged_; ++i) drop(staging_[i], DropReason::shutdown);
    staged_ = 0;
    // Whatever the scheduler still holds is freed through on_shaper_drop,
    // booked as `shutdown` in the direction and in each class: not as
    // departures, and not as the CoDel drops a dequeue far in the future
    // would make of it.
    if (cfg_.scheduler) cfg_.scheduler->discard_all(shaper::DropReason::shutdown);
    rte_mbuf* m;
    while (queue_.peek(&m, 1) == 1) {
        queue_.pop(1);
        drop(m, DropReason::shutdown);
    }
}

}  // namespace sluice::dataplane
