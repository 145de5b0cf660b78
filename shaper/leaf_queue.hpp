// The queue of one leaf class: fifo, CoDel or fq_codel.
//
// Split so that the packet path touches little outside the class's own
// state: the LeafQueue (a fifo or CoDel slot list, or fq_codel's FqHeader;
// 32 bytes) sits in the scheduler's per-class record beside the class's
// LeafKind, the LeafLimits and fq_codel's FqParams in the class's shared
// profile, and the LeafTuning (CoDel's parameters and state) in an array
// that CoDel reads at dequeue. fq_codel's flows are records in the
// scheduler's FlowTable (see fq_codel.hpp). Dispatch is a switch on the
// kind, no virtual calls. fifo and CoDel queues are a slot list in the
// shared packet pool. Limits are checked at enqueue; CoDel drops at
// dequeue.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/config.hpp"
#include "shaper/fq_codel.hpp"
#include "shaper/packet.hpp"

namespace sluice::shaper {

struct LeafLimits {
    uint32_t packets = 0;
    uint64_t bytes = 0;  // 0: no byte limit

    friend bool operator==(const LeafLimits&, const LeafLimits&) = default;
};

// A CoDel class's parameters and state, in one line.
struct alignas(64) LeafTuning {
    CodelProfile codel_profile{};
    CodelState codel{};
};
static_assert(sizeof(LeafTuning) == 64);

// Where a leaf's packets go beyond the class: the scheduler's slot pool and
// flow table, and the class's shared settings.
struct LeafEnv {
    PacketPool& pool;
    FlowTable& flows;
};

struct LeafQueue {
    // fifo and CoDel keep the packets here; fq_codel its lists and backlog.
    union {
        PacketList list;
        FqHeader fq;
    };
    LeafQueue() : list{} {}

    // Empties the state of a queue that holds no packets, for `k`.
    void reset(LeafKind k) {
        if (k == LeafKind::fq_codel)
            fq = FqHeader{};
        else
            list = PacketList{};
    }

    uint32_t packets(LeafKind k) const { return k == LeafKind::fq_codel ? fq.packets : list.packets; }
    uint64_t bytes(LeafKind k) const { return k == LeafKind::fq_codel ? fq.bytes : list.bytes; }
    bool empty(LeafKind k) const { return packets(k) == 0; }

    // Queues slot `s` of class slot `cls`, or hands it (or, for fq_codel,
    // another packet) to drop(slot, reason).
    template <typename Drop>
    void enqueue(LeafKind k, LeafEnv env, uint32_t cls, uint32_t s, const LeafLimits& limits, const FqParams& fqp,
                 uint64_t now, Drop&& drop) {
        if (k == LeafKind::fq_codel) {
            fq.enqueue(env.flows, env.pool, cls, s, fqp, limits.packets, limits.bytes, now, drop);
            return;
        }
        if (list.packets >= limits.packets || (limits.bytes && list.bytes + env.pool[s].cost > limits.bytes)) {
            drop(s, DropReason::queue_limit);
            return;
        }
        list.push(env.pool, s);
    }

    // Fetches the packet or (fq_codel) the flow record that dequeue() will
    // most likely take.
    void prefetch_dequeue(LeafKind k, LeafEnv env) const {
        if (k == LeafKind::fq_codel) {
            if (const uint32_t r = fq.next_flow(); r != FlowTable::kNone) prefetch_line(&env.flows[r]);
        } else if (list.head != kNoSlot) {
            __builtin_prefetch(&env.pool[list.head]);
        }
    }
    // fq_codel: the head packet of the flow dequeue() will most likely
    // serve, and if that is its last, the index line its record leaves;
    // the record should be cached (or on its way) already.
    void prefetch_dequeue_packet(LeafKind k, LeafEnv env) const {
        if (k != LeafKind::fq_codel) return prefetch_dequeue(k, env);
        if (const uint32_t r = fq.next_flow(); r != FlowTable::kNone) {
            const FlowTable::Record& f = env.flows[r];
            if (f.q.head == kNoSlot) return;
            __builtin_prefetch(&env.pool[f.q.head]);
            // Its last packet: its record leaves the index, and the class's
            // next flow (if it has one in the same list) is served next.
            if (f.q.head == f.q.tail) {
                env.flows.prefetch_index(f.cls, f.bucket);
                if (f.next != FlowTable::kNone) prefetch_line(&env.flows[f.next]);
            }
        }
    }

    template <typename Drop>
    uint32_t dequeue(LeafKind k, LeafEnv env, const FqParams& fqp, uint64_t now, LeafTuning& t, Drop&& drop) {
        switch (k) {
            case LeafKind::fifo: return list.pop(env.pool);
            case LeafKind::codel:
                return codel_dequeue(t.codel, t.codel_profile, env.pool, list, now,
                                     [&](uint32_t v) { drop(v, DropReason::codel); });
            case LeafKind::fq_codel: return fq.dequeue(env.flows, env.pool, fqp, now, drop);
        }
        return kNoSlot;
    }

    // Empties the queue into take(slot), oldest first per flow; fq_codel's
    // records of class slot `cls` are freed and its remembered flows
    // forgotten.
    template <typename Take>
    void drain(LeafKind k, LeafEnv env, uint32_t cls, LeafTuning& t, Take&& take) {
        if (k == LeafKind::fq_codel) {
            fq.drain(env.flows, env.pool, cls, take);
            return;
        }
        for (uint32_t s = list.pop(env.pool); s != kNoSlot; s = list.pop(env.pool)) take(s);
        t.codel = {};
    }
};
static_assert(sizeof(LeafQueue) == 32);

}  // namespace sluice::shaper
