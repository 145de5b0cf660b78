#include "dataplane/mempool.hpp"

#include <rte_errno.h>

#include <fmt/format.h>

namespace sluice::dataplane {

Result<Mempool> make_packet_pool(const std::string& name, unsigned mbufs, int socket_id) {
    // A per-lcore cache keeps most allocations off the shared ring.
    constexpr unsigned kCache = 256;
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), mbufs, kCache, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, socket_id);
    if (mp == nullptr) {
        return Error{fmt::format("cannot create packet pool '{}' of {} buffers: {}", name, mbufs,
                                 rte_strerror(rte_errno))};
    }
    return Mempool(mp);
}

}  // namespace sluice::dataplane
