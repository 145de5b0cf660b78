// Owner of a DPDK packet-buffer pool.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <memory>
#include <string>

#include "common/result.hpp"

namespace sluice::dataplane {

struct MempoolDeleter {
    void operator()(rte_mempool* mp) const { rte_mempool_free(mp); }
};
using Mempool = std::unique_ptr<rte_mempool, MempoolDeleter>;

Result<Mempool> make_packet_pool(const std::string& name, unsigned mbufs, int socket_id);

}  // namespace sluice::dataplane
