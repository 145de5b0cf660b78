#include "dataplane/pipeline/handoff.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>

#include <fmt/format.h>

namespace sluice::dataplane {

Result<std::unique_ptr<HandoffRings>> HandoffRings::create(const std::string& name, unsigned workers, unsigned size) {
    if (workers == 0 || workers > kMaxWorkers)
        return Error{fmt::format("hand-off rings: {} workers (1 to {} are possible)", workers, kMaxWorkers)};
    std::unique_ptr<HandoffRings> h(new HandoffRings(workers));
    for (unsigned from = 0; from < workers; ++from) {
        for (unsigned to = 0; to < workers; ++to) {
            if (from == to) continue;
            const std::string ring_name = fmt::format("{}_{}_{}", name, from, to);
            rte_ring* r = rte_ring_create_elem(ring_name.c_str(), sizeof(HandoffItem), size,
                                               static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (r == nullptr)
                return Error{fmt::format("cannot create hand-off ring {}: {}", ring_name, rte_strerror(rte_errno))};
            h->rings_[from * workers + to] = r;
        }
    }
    return h;
}

uint64_t HandoffRings::free_remaining() {
    uint64_t n = 0;
    HandoffItem items[64];
    for (rte_ring* r : rings_) {
        if (r == nullptr) continue;
        unsigned got;
        while ((got = rte_ring_sc_dequeue_burst_elem(r, items, sizeof(HandoffItem), 64, nullptr)) != 0) {
            for (unsigned i = 0; i < got; ++i) rte_pktmbuf_free(items[i].mbuf);
            n += got;
        }
    }
    return n;
}

HandoffRings::~HandoffRings() {
    free_remaining();
    for (rte_ring* r : rings_) rte_ring_free(r);
}

}  // namespace sluice::dataplane
