// The scheduler: a hierarchical token-bucket class tree with priorities,
// weights and AQM leaves, for one direction of one port pair.
//
// Expects:   packets with a class id (from the classifier), their frame
//            length and flow hash; the current time in ticks (the TSC in
//            the daemon, a virtual clock in tests), read once per burst.
// Modifies:  nothing in the packets; it only orders and drops them.
// Output:    packets in the order and at the times the policy allows;
//            every dropped packet goes to the drop handler with a reason.
// Params:    SchedulerConfig (tick rate, overhead model, MTU, slot pool);
//            the class tree (ClassConfig per class).
// Live:      rate, ceil, burst, cburst, prio, weight, adding and removing
//            classes, through apply() between bursts. Leaf kind and limits
//            are fixed for a class's life (remove and add it to change them).
//
// Owned by one lcore: no locks and no atomics; the packet path costs
// O(tree depth) per packet and does not allocate: what a class needs is
// allocated when it is added (delay histograms by chunks of 4,096 classes),
// and fq_codel's flow records come from one table sized from the packet
// pool when the first fq_codel class is added. See docs/shaper.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "shaper/change.hpp"
#include "shaper/class_stats.hpp"
#include "shaper/config.hpp"
#include "shaper/delay_recorder.hpp"
#include "shaper/huge_array.hpp"
#include "shaper/id_index.hpp"
#include "shaper/leaf_queue.hpp"
#include "shaper/packet.hpp"
#include "shaper/profile_table.hpp"
#include "shaper/timer_wheel.hpp"
#include "shaper/token_bucket.hpp"

namespace sluice::shaper {

// Called for every packet the scheduler drops; the owner frees the packet.
using DropHandler = void (*)(void* context, const Packet& packet, DropReason reason);
// Says for n queued packets which class each belongs in now (Scheduler::
// kNoClass: where it is); it may refresh their flow_hash. See move_queued().
using ClassOfBurst = void (*)(void* context, Packet* packets, uint32_t n, uint32_t* class_ids);

// Cache-line aligned: two workers' schedulers are written at once, and no
// line of one may hold a field of the other.
class alignas(64) Scheduler {
public:
    static constexpr uint32_t kNoClass = 0xffffffffu;
    // Lowest rate accepted (bytes/s): 1 kbit/s keeps fixed point in range.
    static constexpr uint64_t kMinRate = 125;
    // A jump of the clock between two calls longer than this is the
    // caller's thread having lost its CPU, and is caught up for (up to
    // SchedulerConfig::catch_up_us; see CatchUp). Turns are microseconds
    // apart, and a gap this short fits in any default burst (1 ms).
    static constexpr uint32_t kStallUs = 100;

    explicit Scheduler(const SchedulerConfig& config);

    // ---- control path (the owning worker, between bursts) ----

    Status apply(const ClassChange& change, uint64_t now);
    void set_drop_handler(DropHandler handler, void* context) {
        drop_handler_ = handler;
        drop_context_ = context;
    }

    // A class's counters; an inner class's are summed over its subtree
    // here, on the caller's thread, not on the packet path (O(subtree)).
    std::optional<ClassSnapshot> snapshot(uint32_t class_id) const;
    // Drops every queued packet under `reason` (DropReason::shutdown when
    // the owner stops), through the drop handler, and books it against
    // its class: nothing departs, and no AQM judges the packets.
    void discard_all(DropReason reason);
    uint32_t class_count() const { return ids_.size(); }
    // The ids of the leaves that hold packets (O(classes)).
    void queued_classes(std::vector<uint32_t>& ids) const;
    // Takes the packets queued in leaf `class_id` and puts each into the
    // leaf `class_of` names for it, a burst of up to 64 at a time, oldest
    // first (per flow, for fq_codel), behind what that leaf holds. They keep
    // their arrival time, so their delay counts from when they came. A
    // packet whose named class is missing or not a leaf, or that is named
    // kNoClass, stays where it was, in its order; a leaf that is full drops
    // under its limits as for any arrival. This is how the owner keeps a
    // flow in order when its class is about to go: called before any packet
    // of the flow is queued in the new class, the old packets leave first.
    // Returns how many packets moved.
    uint32_t move_queued(uint32_t class_id, ClassOfBurst class_of, void* context, uint64_t now);
    uint32_t backlog_packets() const { return pool_.in_use(); }
    // What a leaf has sent and holds, in wire bytes (what its buckets are
    // charged), read in O(1) from the class's state: for a reader that
    // samples demand every 100 us or so (RateShare), where snapshot()'s
    // copy of counters and histogram would cost too much. Nothing on the
    // packet path keeps it; missing or inner classes give nullopt.
    struct LeafLoad {
        uint64_t departed_wire_bytes = 0;  // since the class was added
        uint64_t backlog_wire_bytes = 0;   // queued now
    };
    std::optional<LeafLoad> leaf_load(uint32_t class_id) const {
        const uint32_t x = ids_.find(class_id);
        if (x == IdIndex::kMissing || !cls_[x].leaf) return std::nullopt;
        const ClassState& c = cls_[x];
        return LeafLoad{c.wire_bytes, c.queue.bytes(c.kind)};
    }
    // Starts loading what leaf_load(class_id) reads: for a caller reading
    // many leaves, a few ahead.
    void prefetch_leaf(uint32_t class_id) const {
        const uint32_t x = ids_.find(class_id);
        if (x == IdIndex::kMissing) return;
        __builtin_prefetch(&cls_[x]);
        __builtin_prefetch(reinterpret_cast<const char*>(&cls_[x]) + 64);
    }
    // fq_codel's flow records: one table for all classes (fq_codel.hpp).
    const FlowTable& flow_table() const { return flows_; }
    const SchedulerConfig& config() const { return config_; }

    // ---- packet path ----

    // Whether any class reads Packet::flow_hash (a fq_codel leaf): the
    // caller may leave it 0 otherwise. Changes only through apply().
    bool needs_flow_hash() const { return fq_classes_ != 0; }

    // The dense slot of a class id, or kNoClass; stable while the class lives.
    uint32_t slot_of(uint32_t class_id) const { return ids_.find(class_id); }

    // Queues one packet; false if it was dropped (the drop handler has it).
    bool enqueue(uint32_t class_id, const Packet& packet, uint64_t now);
    // The same without the id lookup; `slot` must come from slot_of() for a
    // class that still exists (a compiled classifier can hold slots).
    bool enqueue_slot(uint32_t slot, const Packet& packet, uint64_t now);
    // Returns how many were queued.
    uint32_t enqueue_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now);
    // enqueue_burst, except that a packet the scheduler would send at once
    // leaves at once: when no class is waiting to send (every row is
    // empty), its class is an empty fifo leaf, and the leaf has tokens or
    // an ancestor it may borrow from has, it is charged and counted as
    // dequeue_burst would, and copied to `leave` instead of being queued.
    // Packets of one class keep their order (a class with a queue always
    // queues). A saturated link is not affected: there something is always
    // waiting. Returns how many packets were put in `leave`, in arrival
    // order; the caller sends them before asking dequeue_burst for more.
    uint32_t enqueue_or_pass_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now,
                                   Packet* leave);

    // Takes up to n packets that may leave at `now`; returns how many.
    uint32_t dequeue_burst(Packet* out, uint32_t n, uint64_t now);

    // Counts a packet dropped before the shaper (a meter) against its class.
    void count_drop(uint32_t class_id, DropReason reason, uint32_t length);

    // The tick at which the next waiting class is woken, if any waits; for
    // sleeping when nothing can leave (nothing changes before it).
    std::optional<uint64_t> next_wakeup() const { return wheel_.next_bound(); }

private:
    enum class Mode : uint8_t { can_send, may_borrow, cant_send };

    static constexpr uint32_t kNone = 0xffffffffu;
    static constexpr uint32_t kLevels = 64;  // leaves at 0, a root at 63

    // A class's place in a round-robin ring (see Ring).
    struct Link {
        uint32_t prev = kNone;
        uint32_t next = kNone;
    };

    // What the packet path touches for a class, in two cache lines: with a
    // fifo leaf, all of it but the shared profile and the packet slots.
    struct alignas(64) ClassState {
        int64_t tokens = 0;
        int64_t ctokens = 0;
        uint64_t t_c = 0;  // tick the buckets were last brought up to date
        uint32_t profile = kNone;  // in profiles_ (shared by equal settings)
        uint32_t parent = kNone;
        int32_t deficit[2] = {0, 0};  // [0] in its row, [1] in its parent's feed
        uint8_t level = 0;
        uint8_t prio : 4 = 0;
        LeafKind kind : 4 = LeafKind::fifo;  // of queue
        uint8_t prio_activity = 0;  // priorities with packets below
        Mode mode = Mode::can_send;
        bool leaf = true;
        bool timer_armed = false;  // spares a look at the wheel when not
        // Departure counters and delays live here too: no extra cache miss
        // per packet. The tally spills into delays_ (DelayRecorder) now
        // and then.
        DelayTally delays{};
        Link own_link{};  // a leaf is in one ring only, at its prio
        LeafQueue queue{};  // fifo and CoDel packets; fq_codel's header
        uint64_t packets = 0;
        uint64_t bytes = 0;
        uint64_t wire_bytes = 0;
        uint64_t borrowed = 0;
    };
    static_assert(sizeof(ClassState) == 128);

    // The tree's shape: control path only.
    struct TreeLinks {
        uint32_t first_child = kNone;
        uint32_t next_sibling = kNone;
        uint32_t prev_sibling = kNone;
        uint8_t depth = 0;
    };


    // A round-robin list: circular through links_, `cur` is whose turn it
    // is. `resume` remembers the first class that left while it had the
    // turn (its own tokens came back, say), so that it gets the turn back if
    // it returns before a turn is used up; otherwise a class that flips
    // between its own rate and borrowing would lose part of every turn and
    // excess bandwidth would not split by weight.
    struct Ring {
        uint32_t cur = kNone;
        uint32_t resume = kNone;
    };
    // `leaves`: the ring is known to hold leaves only (a row of level 0).
    void list_add(Ring& r, uint32_t x, uint32_t prio, bool leaves = false);
    void list_remove(Ring& r, uint32_t x, uint32_t prio, bool leaves = false);
    void join_leaf_row(uint32_t leaf);
    void leave_leaf_row(uint32_t leaf);
    void add_to_row(uint32_t x, uint8_t mask);
    void remove_from_row(uint32_t x, uint8_t mask);

    void activate_prios(uint32_t x);
    void deactivate_prios(uint32_t x);
    void activate(uint32_t leaf);
    void deactivate(uint32_t leaf);

    Mode mode_for(const ClassState& c, int64_t credit_fp, int64_t& wait_fp) const;
    void change_mode(uint32_t x, int64_t credit_fp, int64_t& wait_fp);
    void refresh_mode(uint32_t x);
    void arm_timer(uint32_t x, int64_t wait_fp);
    void disarm_timer(uint32_t x);
    void on_timer(uint32_t x);

    void charge(uint32_t leaf, uint32_t level, uint32_t cost);
    // enqueue_slot's body, inlined into enqueue_burst.
    bool enqueue_one(uint32_t cls, const Packet& packet, uint64_t now);
    // The two enqueue bursts; `leave` null: every packet is queued.
    uint32_t admit_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now, Packet* leave);
    // Sends `packet` of leaf `cls` at once if dequeue would send it now.
    bool pass_one(uint32_t cls, const Packet& packet);
    // advance_clock, then the timers due by then fire.
    void advance_to(uint64_t now);
    void count_departure(uint32_t leaf, const Packet& packet, uint32_t cost, uint32_t bucket, uint64_t* direct_counter);
    bool dequeue_tree(uint32_t level, uint32_t prio, Packet& out);
    void prefetch_ring(const Ring& ring, uint32_t prio);
    void prefetch_timers(std::span<const uint32_t> due);
    void drop_slot(uint32_t cls, uint32_t s, DropReason reason);
    void report_drop(uint32_t cls, const Packet& p, DropReason reason);
    void queue_slot(uint32_t cls, uint32_t s);
    // Adds a removed class's departures and drops to its parent's own.
    void fold_into_parent(uint32_t x);
    Status add_class(const ClassConfig& cfg, uint64_t now);
    Status remove_class(const RemoveClass& rc);
    Status modify_class(const ModifyClass& mc, uint64_t now);
    Status check_config(const ClassConfig& cfg, bool is_root) const;
    void set_profile(uint32_t x, const ClassConfig& cfg);
    const ClassProfile& profile_of(const ClassState& c) const { return profiles_[c.profile]; }
    void set_leaf(uint32_t x, const LeafConfig& leaf);
    uint32_t allocate_slot();
    void release_slot(uint32_t x);
    uint64_t ticks_from_us(uint64_t us) const;
    CodelProfile codel_profile_of(const LeafConfig& l) const {
        return {ticks_from_us(l.codel.target_us), ticks_from_us(l.codel.interval_us), mtu_cost_};
    }
    // Starts loading both lines of a class's state.
    void prefetch_state(uint32_t x) const {
        const char* c = reinterpret_cast<const char*>(&cls_[x]);
        __builtin_prefetch(c);
        __builtin_prefetch(c + 64);
    }

    // Moves the clock on (never back); a jump starts a catch-up (see
    // CatchUp). The first reading is no jump: the clock starts at 0. Nor
    // is a jump while no packet waited (an idle worker that slept): no
    // class lost any service in it, so there is nothing to make up.
    void advance_clock(uint64_t now) {
        if (now <= now_) return;
        if (now_ != 0) catch_up_.observe(now_, now, pool_.in_use() != 0);
        now_ = now;
    }

    SchedulerConfig config_;
    uint32_t mtu_cost_;
    PacketPool pool_;
    TimerWheel wheel_;
    IdIndex ids_;
    uint64_t now_ = 0;
    CatchUp catch_up_;

    HugeVector<ClassState> cls_;
    std::vector<TreeLinks> tree_;
    HugeVector<std::array<Link, kPrioCount>> links_;  // inner classes: one per prio
    // A leaf's ring links sit in its own state (one cache line less per
    // packet); an inner class can be in a ring per priority. A class only
    // turns from leaf to inner or back while it is in no ring.
    // `leaf_ring`: x is known to be a leaf (it is in a row of level 0), so
    // its kind need not be read.
    Link& link_of(uint32_t x, uint32_t prio, bool leaf_ring = false) {
        return leaf_ring || cls_[x].leaf ? cls_[x].own_link : links_[x][prio];
    }
    HugeVector<std::array<Ring, kPrioCount>> feed_;  // inner classes' children lists
    // fq_codel's flow records, for all classes; sized when the first
    // fq_codel class comes.
    FlowTable flows_;
    LeafEnv leaf_env() { return {pool_, flows_}; }
    // A fq_codel leaf's configured flows by slot (0 for other classes): what
    // enqueue_burst needs to find a packet's flow record before the class's
    // state is in.
    HugeVector<uint32_t> fq_flows_;
    HugeVector<LeafTuning> tuning_;
    // Classes configured with CoDel or fq_codel, whose packets also touch
    // their tuning_ (CoDel) or flow records (fq_codel): only while there are
    // any is it worth prefetching those, and only in a tree too big for the
    // cache (the bound of direct delays): a small one stays in cache.
    uint32_t aqm_classes_ = 0;
    uint32_t fq_classes_ = 0;  // of which fq_codel
    bool fetch_aqm_ahead() const { return aqm_classes_ && !delays_.direct(); }
    ProfileTable profiles_;
    HugeVector<ClassCounters> counters_;
    DelayRecorder delays_;
    std::vector<ClassConfig> configs_;
    std::vector<uint32_t> free_slots_;

    std::array<std::array<Ring, kPrioCount>, kLevels> row_{};
    std::array<uint8_t, kLevels> row_mask_{};
    uint64_t level_mask_ = 0;  // levels whose row has any class
    int delay_floor_shift_;

    DropHandler drop_handler_ = nullptr;
    void* drop_context_ = nullptr;
    uint64_t unclassified_drops_ = 0;
};

}  // namespace sluice::shaper
