// Packets as the shaper sees them, and the preallocated slots that hold
// them while they wait.
//
// The shaper never touches packet data: a packet is an opaque handle (the
// daemon stores the mbuf pointer) plus the few fields scheduling needs. All
// queued packets live in one pool of fixed-size slots allocated when the
// scheduler is built; a class queue is a singly linked list of slot indices,
// so an idle class holds no queue memory at all and the packet path never
// allocates. Freed slots are reused last-in first-out, which keeps the
// working set warm in cache.
#pragma once

#include <cstdint>
#include <vector>

#include "shaper/huge_array.hpp"

namespace sluice::shaper {

struct Packet {
    uint64_t handle = 0;     // opaque to the shaper
    uint32_t length = 0;     // frame bytes as the port sees them
    uint32_t flow_hash = 0;  // 5-tuple hash; used by fq_codel leaves
};

inline constexpr uint32_t kNoSlot = 0xffffffffu;

struct PacketSlot {
    Packet packet;
    uint64_t enqueued_at = 0;  // tick
    uint32_t cost = 0;         // wire bytes, from the overhead model
    uint32_t next = kNoSlot;
};

class PacketPool {
public:
    explicit PacketPool(uint32_t capacity) : slots_(capacity) {
        for (uint32_t i = 0; i < capacity; ++i) slots_[i].next = i + 1 < capacity ? i + 1 : kNoSlot;
        free_ = capacity ? 0 : kNoSlot;
    }

    // kNoSlot when the pool is exhausted.
    uint32_t take() {
        const uint32_t s = free_;
        if (s != kNoSlot) {
            free_ = slots_[s].next;
            --free_count_;
        }
        return s;
    }
    void give_back(uint32_t s) {
        slots_[s].next = free_;
        free_ = s;
        ++free_count_;
    }

    PacketSlot& operator[](uint32_t s) { return slots_[s]; }
    const PacketSlot& operator[](uint32_t s) const { return slots_[s]; }
    uint32_t capacity() const { return static_cast<uint32_t>(slots_.size()); }
    uint32_t in_use() const { return capacity() - free_count_; }

private:
    HugeVector<PacketSlot> slots_;
    uint32_t free_ = kNoSlot;
    uint32_t free_count_ = static_cast<uint32_t>(slots_.size());
};

// A FIFO of pool slots, linked through their `next`, kept as its two ends.
inline void append_slot(PacketPool& pool, uint32_t& head, uint32_t& tail, uint32_t s) {
    pool[s].next = kNoSlot;
    if (tail == kNoSlot)
        head = s;
    else
        pool[tail].next = s;
    tail = s;
}

// Takes the first slot off such a FIFO, or returns kNoSlot.
inline uint32_t take_first_slot(PacketPool& pool, uint32_t& head, uint32_t& tail) {
    const uint32_t s = head;
    if (s == kNoSlot) return s;
    head = pool[s].next;
    if (head == kNoSlot)
        tail = kNoSlot;
    else
        __builtin_prefetch(&pool[head]);  // most likely the next packet out
    return s;
}

// A FIFO of pool slots with its backlog.
struct PacketList {
    uint32_t head = kNoSlot;
    uint32_t tail = kNoSlot;
    uint32_t packets = 0;
    uint64_t bytes = 0;  // wire bytes

    bool empty() const { return head == kNoSlot; }

    void push(PacketPool& pool, uint32_t s) {
        append_slot(pool, head, tail, s);
        ++packets;
        bytes += pool[s].cost;
    }

    uint32_t pop(PacketPool& pool) {
        const uint32_t s = take_first_slot(pool, head, tail);
        if (s == kNoSlot) return s;
        --packets;
        bytes -= pool[s].cost;
        return s;
    }
};

}  // namespace sluice::shaper
