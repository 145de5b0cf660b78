#include "dataplane/daemon/change_channel.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>

#include <fmt/format.h>

#include <thread>

namespace sluice::dataplane {

Result<std::unique_ptr<ChangeChannel>> ChangeChannel::create(const std::string& name) {
    rte_ring* r = rte_ring_create(name.c_str(), 64, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) return Error{fmt::format("cannot create change ring {}: {}", name, rte_strerror(rte_errno))};
    return std::unique_ptr<ChangeChannel>(new ChangeChannel(r));
}

ChangeChannel::~ChangeChannel() { rte_ring_free(ring_); }

Result<std::chrono::microseconds> ChangeChannel::apply(const shaper::ClassChange& change,
                                                       std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    late_.remove_if([](const auto& r) { return r->done.load(std::memory_order_acquire); });
    auto req = std::make_unique<ShaperRequest>();
    req->change = change;
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
    if (!req->error.empty()) return Error{req->error};
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace sluice::dataplane
