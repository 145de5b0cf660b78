// A started DPDK port over two rte_rings, built with the ring PMD's own API,
// for tests that feed a pipeline from one thread and read what it sends:
// the test enqueues into `rx` what the port "receives" and dequeues from
// `tx` what the pipeline transmitted.
#pragma once

#include <catch2/catch.hpp>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <string>

namespace sluice::test {

struct RingPort {
    rte_ring* rx;
    rte_ring* tx;
    uint16_t id;
};

inline RingPort make_ring_port(const std::string& name, rte_mempool* pool) {
    RingPort p{};
    p.rx = rte_ring_create((name + "_rx").c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.tx = rte_ring_create((name + "_tx").c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    REQUIRE(p.rx != nullptr);
    REQUIRE(p.tx != nullptr);
    const int id = rte_eth_from_rings(name.c_str(), &p.rx, 1, &p.tx, 1, 0);
    REQUIRE(id >= 0);
    p.id = static_cast<uint16_t>(id);
    rte_eth_conf conf{};
    REQUIRE(rte_eth_dev_configure(p.id, 1, 1, &conf) == 0);
    REQUIRE(rte_eth_rx_queue_setup(p.id, 0, 1024, 0, nullptr, pool) == 0);
    REQUIRE(rte_eth_tx_queue_setup(p.id, 0, 1024, 0, nullptr) == 0);
    REQUIRE(rte_eth_dev_start(p.id) == 0);
    return p;
}

}  // namespace sluice::test
