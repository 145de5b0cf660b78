// Where the workers find the gateway's own-traffic matcher: one pointer,
// swapped by the control thread, read by each worker once per turn of its
// loop, the way the classifier tables are. The matcher it replaces is
// released only after a grace period of the tables' RCU (the same workers
// are its readers and report their quiescent states there), so no worker
// ever reads a freed one.
#pragma once

#include <atomic>
#include <memory>

#include "classifier/table_publisher.hpp"
#include "dataplane/management_match.hpp"

namespace sluice::dataplane {

class ManagementSlot {
public:
    // `readers` is the publisher whose readers are the workers that read this slot.
    explicit ManagementSlot(const classifier::TablePublisher& readers) : readers_(readers) {}
    ManagementSlot(const ManagementSlot&) = delete;
    ManagementSlot& operator=(const ManagementSlot&) = delete;

    // Control thread: `next` from the next turn of every worker on (null or
    // an empty matcher: none, and a worker pays one branch per frame).
    // Returns once no worker can hold the previous one, and returns it.
    std::shared_ptr<const ManagementMatch> publish(std::shared_ptr<const ManagementMatch> next) {
        if (next && next->empty()) next.reset();
        std::shared_ptr<const ManagementMatch> old = std::move(owner_);
        owner_ = std::move(next);
        current_.store(owner_.get(), std::memory_order_release);
        readers_.wait_for_readers();
        return old;
    }
    std::shared_ptr<const ManagementMatch> current_owned() const { return owner_; }

    // Worker: read once per turn; valid until the worker's next quiescent state.
    const ManagementMatch* current() const { return current_.load(std::memory_order_acquire); }

private:
    const classifier::TablePublisher& readers_;
    std::atomic<const ManagementMatch*> current_{nullptr};
    std::shared_ptr<const ManagementMatch> owner_;
};

}  // namespace sluice::dataplane
