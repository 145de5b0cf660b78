// Live changes to a direction's scheduler, from the control thread to the
// worker that owns it: requests go through a single-producer single-consumer
// rte_ring and are applied by the worker between bursts, so the packet path
// takes no lock and the scheduler has one writer. The control thread waits
// for the worker's answer; a change is reported applied only once the
// worker has applied it.
#pragma once

#include <rte_ring.h>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "dataplane/pipeline/share_link.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::dataplane {

// Changes the worker applies in order, in one go between two bursts; it
// stops at the first one refused.
struct ShaperRequest {
    std::vector<shaper::ClassChange> changes;
    // When set, the worker divides the shared classes with `share` from
    // then on (null: with no rebalancer), once the changes are applied.
    bool adopt_share = false;
    ShareLink* share = nullptr;
    size_t applied = 0;            // written by the worker before `done`
    std::string error;             // likewise: why changes[applied] was refused
    std::atomic<bool> done{false};
};

struct BatchResult {
    size_t applied = 0;  // changes applied, from the first
    std::string error;   // empty when all were
    std::chrono::microseconds took{0};
};

class ChangeChannel {
public:
    static Result<std::unique_ptr<ChangeChannel>> create(const std::string& name);
    ~ChangeChannel();
    ChangeChannel(const ChangeChannel&) = delete;
    ChangeChannel& operator=(const ChangeChannel&) = delete;

    // Control thread: posts the change and waits up to `timeout` for the
    // worker. An error means the change was refused, or not applied in time
    // (it may still be applied later; it is never reported as applied).
    Result<std::chrono::microseconds> apply(const shaper::ClassChange& change, std::chrono::milliseconds timeout);

    // Control thread: many changes, sent in requests of at most kBatch so
    // the worker never stalls its packets long; stops at the first refusal.
    // An error means the worker did not answer in time: then how many were
    // applied is unknown, and nothing is reported as applied.
    static constexpr size_t kBatch = 256;
    Result<BatchResult> apply_all(const std::vector<shaper::ClassChange>& changes, std::chrono::milliseconds timeout);

    // Control thread: worker `worker` of the direction divides its shared
    // classes with `share` from its next turn (null: stops dividing them;
    // its copies keep their last rates). Answered once the worker has let
    // go of the link it had, which may then be freed.
    Result<bool> adopt(ShareLink* share, std::chrono::milliseconds timeout);

    // Worker: applies whatever is waiting, between bursts. Cheap when empty.
    // `share` is the worker's rebalancer link (worker number `worker`).
    void serve(shaper::Scheduler& scheduler, uint64_t now, ShareLink*& share, unsigned worker) {
        void* item;
        while (rte_ring_sc_dequeue(ring_, &item) == 0) {
            auto* req = static_cast<ShaperRequest*>(item);
            for (const auto& change : req->changes) {
                const shaper::Status st = scheduler.apply(change, now);
                if (!st) {
                    req->error = st.error();
                    break;
                }
                ++req->applied;
            }
            if (req->adopt_share && req->error.empty()) {
                share = req->share;
                if (share != nullptr) share->adopted(worker);
            }
            req->done.store(true, std::memory_order_release);
        }
    }

private:
    explicit ChangeChannel(rte_ring* r) : ring_(r) {}
    // Posts one request and waits for its answer; the caller holds mutex_.
    Result<std::chrono::microseconds> post_locked(std::unique_ptr<ShaperRequest> req, std::chrono::milliseconds timeout,
                                                  ShaperRequest& answer);

    rte_ring* ring_;
    std::mutex mutex_;  // one control-side caller at a time: the ring is single-producer
    // Requests the worker has not answered in time; freed once it has.
    std::list<std::unique_ptr<ShaperRequest>> late_;
};

}  // namespace sluice::dataplane
