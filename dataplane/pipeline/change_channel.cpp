#include "dataplane/pipeline/change_channel.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace sluice::dataplane {

Result<std::unique_ptr<ChangeChannel>> ChangeChannel::create(const std::string& name) {
    rte_ring* r = rte_ring_create(name.c_str(), 64, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) return Error{fmt::format("cannot create change ring {}: {}", name, rte_strerror(rte_errno))};
    return std::unique_ptr<ChangeChannel>(new ChangeChannel(r));
}

ChangeChannel::~ChangeChannel() { rte_ring_free(ring_); }

Result<std::chrono::microseconds> ChangeChannel::post_locked(std::unique_ptr<ShaperRequest> req,
                                                             std::chrono::milliseconds timeout, ShaperRequest& answer) {
    late_.remove_if([](const auto& r) { return r->done.load(std::memory_order_acquire); });
    const auto start = std::chrono::steady_clock::now();
    if (rte_ring_sp_enqueue(ring_, req.get()) != 0) return Error{"too many changes are waiting for the worker; try again"};
    while (!req->done.load(std::memory_order_acquire)) {
        if (std::chrono::steady_clock::now() - start > timeout) {
            late_.push_back(std::move(req));
            return Error{fmt::format("the worker did not apply the change within {} ms; it is not reported as applied",
                                     timeout.count())};
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    answer.applied = req->applied;
    answer.error = std::move(req->error);
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
}

Result<std::chrono::microseconds> ChangeChannel::apply(const shaper::ClassChange& change,
                                                       std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    auto req = std::make_unique<ShaperRequest>();
    req->changes.push_back(change);
    ShaperRequest answer;
    auto took = post_locked(std::move(req), timeout, answer);
    if (!took) return took;
    if (!answer.error.empty()) return Error{answer.error};
    return took;
}

Result<bool> ChangeChannel::adopt(ShareLink* share, std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    auto req = std::make_unique<ShaperRequest>();
    req->adopt_share = true;
    req->share = share;
    ShaperRequest answer;
    auto took = post_locked(std::move(req), timeout, answer);
    if (!took) return Error{took.error()};
    return true;
}

Result<BatchResult> ChangeChannel::apply_all(const std::vector<shaper::ClassChange>& changes,
                                             std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    BatchResult result;
    for (size_t at = 0; at < changes.size(); at += kBatch) {
        auto req = std::make_unique<ShaperRequest>();
        const size_t end = std::min(changes.size(), at + kBatch);
        req->changes.assign(changes.begin() + static_cast<std::ptrdiff_t>(at),
                            changes.begin() + static_cast<std::ptrdiff_t>(end));
        ShaperRequest answer;
        auto took = post_locked(std::move(req), timeout, answer);
        if (!took) return Error{took.error()};
        result.took += *took;
        result.applied += answer.applied;
        if (!answer.error.empty()) {
            result.error = std::move(answer.error);
            break;
        }
    }
    return result;
}

}  // namespace sluice::dataplane
