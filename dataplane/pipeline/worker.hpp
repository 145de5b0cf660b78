// A forwarding lcore: owns one or more Directions and polls them until told
// to stop, then drains what they hold. Between bursts it serves live changes
// (inside Direction::poll) and, when its directions stay empty, sleeps as its
// IdleGovernor says: until a packet raises an rx interrupt when all its
// ingress ports have them, for the governor's time otherwise. While asleep
// it is offline for the classifier tables' RCU, so a policy load never
// waits for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/pipeline/direction.hpp"
#include "dataplane/idle_governor.hpp"
#include "dataplane/packet_wake.hpp"

namespace sluice::dataplane {

struct Worker {
    std::vector<Direction*> directions;
    const std::atomic<bool>* stop = nullptr;
    unsigned drain_ms = 500;     // how long queued packets may take to leave at shutdown
    // Classifier tables this worker reads, and its reader id there (null: none).
    classifier::TablePublisher* tables = nullptr;
    unsigned reader_id = 0;
    // When to sleep with no traffic (in TSC cycles and nanoseconds).
    IdleGovernor::Settings idle{};
    // What an idle worker can wait on, one per ingress port of its
    // directions: the port's rx interrupt (Port::rx_interrupts), or a packet
    // socket on its interface (Port::packet_wake). Empty unless every
    // ingress port has one: then it sleeps by time.
    struct WakeSource {
        uint16_t port = 0;
        PacketWake* socket = nullptr;  // null: the port's rx interrupt
    };
    std::vector<WakeSource> wake_ports;

    // Written by the worker: whether it waits for rx interrupts (once
    // started), how often it slept and for how long in all (when it returns).
    bool waits_for_rx = false;
    uint64_t sleeps = 0;
    uint64_t slept_ns = 0;

    // The lcore entry point for rte_eal_remote_launch; `arg` is a Worker*.
    static int run(void* arg);
};

// The governor settings sluiced runs with: `max_sleep_us` 0 turns sleeping off.
IdleGovernor::Settings idle_settings(uint32_t max_sleep_us);

}  // namespace sluice::dataplane
