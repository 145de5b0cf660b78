// One forwarding direction of the bridge: frames received on the ingress port
// are parsed, pass the egress stage, and leave on the egress port.
//
//   upload:   lan rx -> parse -> classify -> egress stage -> wan tx
//   download: wan rx -> parse -> classify -> egress stage -> lan tx
//
// With an exception path (ports the kernel cannot see, dataplane/
// exception_port.hpp), the gateway's own frames leave the pipeline after the
// parse: the management matcher sends them to the ingress port's tap, whose
// kernel answers; what the kernel writes to the egress port's tap leaves on
// the egress port before the shaped traffic, unshaped (it is the gateway's
// own). Each tap's tx queue is used by the direction that receives from its
// port, its rx queue by the direction that transmits on its port.
//
// The egress stage is the shaper's scheduler when the direction has one (a
// policy with classes): packets wait in their class queue until the
// scheduler lets them leave. Without one it is a plain FIFO that pushes
// back on the ingress port instead of dropping.
//
// Expects:  both ports started; exactly one lcore calls poll() and drain();
//           when classifier tables are published, that lcore is an online
//           reader of the publisher and reports quiescent states between turns.
// Modifies: nothing inside frames (the bridge is transparent).
// Outputs:  every received mbuf is transmitted or freed under a DropReason.
// Counters: DirectionCounters, single writer (the owning lcore).
//
// With several workers per direction each has its own Direction (its own
// rx and tx queue, scheduler and counters); a packet whose class another
// worker owns is handed to that worker (handoff.hpp) right after it is
// classified, and leaves on the owner's tx queue.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "classifier/classify_stage.hpp"
#include "shaper/scheduler.hpp"
#include "classifier/table_publisher.hpp"
#include "dataplane/pipeline/change_channel.hpp"
#include "dataplane/pipeline/handoff.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/egress_queue.hpp"
#include "dataplane/pipeline/management_slot.hpp"
#include "dataplane/exception_port.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/stage_clock.hpp"

namespace sluice::dataplane {

inline constexpr uint32_t kMaxBurst = 256;
// A gap between two turns longer than this, while packets wait, is a stall
// (DirectionCounters::stalls): a class's bucket holds a millisecond at its
// rate by default, so a longer gap is service the shaper must catch up on.
inline constexpr uint32_t kStallGapUs = 1'000;

struct DirectionConfig {
    std::string name;        // "upload" or "download"
    uint16_t ingress_port;
    uint16_t egress_port;
    uint32_t burst = 32;
    uint32_t queue_packets = 4096;
    classifier::Side ingress_side = classifier::Side::lan;
    // Where the current classifier tables are published; null: no classification.
    const classifier::TablePublisher* tables = nullptr;
    // The direction's scheduler, used only by the owning lcore; null: FIFO.
    shaper::Scheduler* scheduler = nullptr;
    // The class of packets no classifier placed (no tables yet, non-IP).
    uint32_t default_class = 0;
    // Live changes to the scheduler arrive here (null: none).
    ChangeChannel* changes = nullptr;
    // The exception path; null: none. Frames from the ingress port that the
    // matcher in `management` takes go to `ingress_tap`; without a tap (a
    // port whose frames the kernel gets a copy of) they are freed, counted
    // under `kernel_copies`, as the kernel has them already;
    // frames the kernel writes to `egress_tap` leave on the egress port.
    const ManagementSlot* management = nullptr;
    ExceptionPort* ingress_tap = nullptr;
    ExceptionPort* egress_tap = nullptr;
    // With N workers per direction (--workers): this worker's index, the
    // ingress port's rx queue and the egress port's tx queue it uses, and
    // the rings to and from the direction's other workers (null with one
    // worker, or without a scheduler: then every packet stays where it came in).
    unsigned worker = 0;
    uint16_t rx_queue = 0;
    uint16_t tx_queue = 0;
    HandoffRings* handoff = nullptr;
    // The rebalancer link this worker starts with (null: none); later ones
    // come through `changes` (ChangeChannel::adopt).
    ShareLink* share = nullptr;
};

// Cache-line aligned: the directions of different workers are written at
// once, and no line of one may hold a field of another.
class alignas(64) Direction {
public:
    explicit Direction(const DirectionConfig& cfg);
    ~Direction();
    Direction(const Direction&) = delete;
    Direction& operator=(const Direction&) = delete;

    // One turn of the loop: transmit what waits, then receive what fits.
    // Returns the number of packets moved, so an idle loop can back off.
    uint32_t poll();

    // Stops receiving and transmits what is queued; returns true once empty.
    bool flush();

    // Frees whatever is still queued, counting it under DropReason::shutdown.
    void discard();

    const std::string& name() const { return cfg_.name; }
    const DirectionCounters& counters() const { return counters_; }
    uint32_t queued() const {
        return cfg_.scheduler ? cfg_.scheduler->backlog_packets() + staged_ : queue_.size();
    }
    // Packets the scheduler dropped, by the shaper's reason.
    uint64_t shaper_drops(shaper::DropReason r) const { return shaper_drops_[static_cast<unsigned>(r)]; }
    // The rebalancer link in use (read by tests; the worker's alone).
    const ShareLink* share() const { return share_; }
    // When this worker's part in dividing the shared classes next falls
    // due (TSC) while some worker wants something of them, else UINT64_MAX:
    // the longest this worker may sleep when idle (ShareLink::active).
    uint64_t share_due() const {
        return share_ != nullptr && share_->active() ? share_->due(cfg_.worker) : UINT64_MAX;
    }
    // Packets moved out of removed classes into their new ones (adopt_tables).
    uint64_t rehomed_packets() const { return rehomed_packets_; }
    // Cycles by stage; all zero unless built with -Dstage_cycles=true.
    const StageClock& stage_clock() const { return clock_; }

private:
    // `now` is the TSC, read once per turn of the loop.
    uint32_t transmit(uint64_t now);
    uint32_t transmit_shaped(uint64_t now);
    // Hands tx_[0, n) to the port and counts what it took; returns that.
    uint32_t tx_counted(uint32_t n);
    // Sends tx_[0, n) the scheduler released; what the port refuses is staged.
    uint32_t send_shaped(uint32_t n);
    uint32_t receive(uint64_t now);
    // Queues (or passes) a classified burst in the scheduler.
    void enqueue_shaped(uint32_t* classes, shaper::Packet* packets, uint32_t n, uint64_t now);
    // Sends the packets of classes other workers own to them; keeps the
    // rest in shaped_/class_[0, returned).
    uint32_t hand_off(uint32_t n);
    // Whether every ring to another worker has room for a whole burst.
    bool handoff_room() const;
    // Queues what the other workers handed to this one.
    uint32_t take_handoffs(uint64_t now);
    // At the first turn with new classifier tables, before any packet is
    // classified by them: packets queued in classes the new tables no
    // longer name (classes a policy load is removing) move to the classes
    // the new tables give them, ahead of the flows' newer packets.
    void adopt_tables(const classifier::ClassifierTables* tables, uint64_t now);
    static void reclassify(void* self, shaper::Packet* packets, uint32_t n, uint32_t* class_ids);
    static void on_shaper_drop(void* self, const shaper::Packet& p, shaper::DropReason why);
    void drop(rte_mbuf* m, DropReason why);

    DirectionConfig cfg_;
    DirectionCounters counters_;
    EgressQueue<rte_mbuf*> queue_;
    // Per-burst scratch, kept here so the loop allocates nothing.
    rte_mbuf* rx_[kMaxBurst];
    rte_mbuf* tx_[kMaxBurst];
    uint32_t tx_len_[kMaxBurst];
    PacketMeta meta_[kMaxBurst];
    uint32_t class_[kMaxBurst];
    rte_mbuf* dropped_[kMaxBurst];
    shaper::Packet shaped_[kMaxBurst];
    shaper::Packet passed_[kMaxBurst];  // released by the scheduler as they came
    // Packets the scheduler released but the port has not taken yet: they
    // leave first, in order, before the scheduler is asked for more.
    rte_mbuf* staging_[kMaxBurst];
    uint32_t staged_ = 0;
    std::array<uint64_t, shaper::kDropReasonCount> shaper_drops_{};
    classifier::ClassifyStage classify_;
    // The tables this turn classifies with, read once at its start, and
    // the generation of those the direction last adopted.
    const classifier::ClassifierTables* tables_ = nullptr;
    uint64_t tables_generation_ = 0;
    // The management matcher of this turn (null: none), read at its start.
    const ManagementMatch* management_ = nullptr;
    rte_mbuf* kernel_[kMaxBurst];  // frames to or from the kernel in this burst
    // adopt_tables' work space (grown on the change path only).
    std::vector<uint32_t> queued_classes_;
    std::vector<uint8_t> named_;
    uint64_t rehomed_packets_ = 0;
    ShareLink* share_ = nullptr;
    uint64_t last_turn_ = 0;     // TSC at the start of the last turn
    uint64_t stall_cycles_ = 0;  // kStallGapUs in TSC cycles
    StageClock clock_;
    // Hand-off scratch: items bound for each other worker, and those taken in.
    std::vector<HandoffItem> outbound_;  // [worker * kMaxBurst + i]
    uint32_t outbound_len_[kMaxWorkers] = {};
    HandoffItem inbound_[kMaxBurst];
    uint32_t in_class_[kMaxBurst];
};

}  // namespace sluice::dataplane
