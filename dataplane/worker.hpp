// A forwarding lcore: owns one or more Directions and polls them until told
// to stop, then drains what they hold.
#pragma once

#include <atomic>
#include <vector>

#include "dataplane/direction.hpp"

namespace sluice::dataplane {

struct Worker {
    std::vector<Direction*> directions;
    const std::atomic<bool>* stop = nullptr;
    unsigned drain_ms = 500;     // how long queued packets may take to leave at shutdown

    // The lcore entry point for rte_eal_remote_launch; `arg` is a Worker*.
    static int run(void* arg);
};

}  // namespace sluice::dataplane
