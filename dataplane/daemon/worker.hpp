// A forwarding lcore: owns one or more Directions and polls them until told
// to stop, then drains what they hold.
#pragma once

#include <atomic>
#include <vector>

#include "dataplane/daemon/direction.hpp"

namespace sluice::dataplane {

struct Worker {
    std::vector<Direction*> directions;
    const std::atomic<bool>* stop = nullptr;
    unsigned drain_ms = 500;     // how long queued packets may take to leave at shutdown
    // Classifier tables this worker reads, and its reader id there (null: none).
    classifier::TablePublisher* tables = nullptr;
    unsigned reader_id = 0;

    // The lcore entry point for rte_eal_remote_launch; `arg` is a Worker*.
    static int run(void* arg);
};

}  // namespace sluice::dataplane
