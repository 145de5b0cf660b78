// The egress stage of one direction: where packets wait between the
// receive-and-classify half of the loop and the transmit half.
//
// Today it is a single bounded FIFO, so a port that cannot take a burst at
// once (a full tx ring) pushes back into this queue instead of losing
// packets; the classifier and the shaper replace the single FIFO with class
// queues and a scheduler behind the same enqueue/peek/pop shape.
//
// Owned by one lcore: no atomics, no locks. Capacity is a power of two.
#pragma once

#include <cstdint>
#include <memory>

namespace sluice::dataplane {

template <typename T>
class EgressQueue {
public:
    explicit EgressQueue(uint32_t capacity_pow2)
        : slots_(std::make_unique<T[]>(capacity_pow2)), mask_(capacity_pow2 - 1) {}

    uint32_t size() const { return tail_ - head_; }
    uint32_t capacity() const { return mask_ + 1; }
    uint32_t free_space() const { return capacity() - size(); }
    bool empty() const { return head_ == tail_; }

    // Appends up to n items; returns how many fit. The caller frees the rest.
    uint32_t push(T const* items, uint32_t n) {
        const uint32_t room = free_space();
        if (n > room) n = room;
        for (uint32_t i = 0; i < n; ++i) slots_[(tail_ + i) & mask_] = items[i];
        tail_ += n;
        return n;
    }

    // Copies up to n items from the head without removing them.
    uint32_t peek(T* out, uint32_t n) const {
        const uint32_t have = size();
        if (n > have) n = have;
        for (uint32_t i = 0; i < n; ++i) out[i] = slots_[(head_ + i) & mask_];
        return n;
    }

    void pop(uint32_t n) { head_ += n; }

private:
    std::unique_ptr<T[]> slots_;
    uint32_t mask_;
    uint32_t head_ = 0;  // free-running indices; their difference is the size
    uint32_t tail_ = 0;
};

}  // namespace sluice::dataplane
