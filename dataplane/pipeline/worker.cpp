#include "dataplane/pipeline/worker.hpp"

#include <rte_cycles.h>
#include <rte_epoll.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>

namespace sluice::dataplane {
namespace {

// Empty turns go on this long before the first sleep: long enough to poll
// through the gap between a request and its answer, short enough that a
// lone packet now and then costs little CPU.
constexpr uint64_t kSpinUs = 200;
// The first sleep; each next one doubles up to the longest.
constexpr uint64_t kFirstSleepNs = 10'000;
// With rx interrupts a worker waits for a packet, but no longer than this:
// live changes to its scheduler are served between waits.
constexpr int kInterruptWaitMs = 10;

void sleep_ns(uint64_t ns) {
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    // An early wake-up (a signal) only means an earlier poll.
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
}

// Adds (or removes) the wake sources to this thread's epoll instance; true
// when every one was added.
bool register_wake_ports(const std::vector<Worker::WakeSource>& sources, bool add) {
    bool all = true;
    for (const auto& w : sources) {
        all &= w.socket ? w.socket->watch(add)
                        : rte_eth_dev_rx_intr_ctl_q(w.port, 0, RTE_EPOLL_PER_THREAD,
                                                    add ? RTE_INTR_EVENT_ADD : RTE_INTR_EVENT_DEL, nullptr) == 0;
    }
    return all;
}

// Arms (or disarms) every source: the next packet raises an event.
void arm_wake_ports(const std::vector<Worker::WakeSource>& sources, bool arm) {
    for (const auto& w : sources) {
        // Drivers whose queue interrupt is always armed (net_tap) answer
        // -ENOTSUP to enable; that is fine.
        if (w.socket) arm ? (void)w.socket->arm() : (void)w.socket->disarm();
        else if (arm) rte_eth_dev_rx_intr_enable(w.port, 0);
        else rte_eth_dev_rx_intr_disable(w.port, 0);
    }
}

}  // namespace

IdleGovernor::Settings idle_settings(uint32_t max_sleep_us) {
    IdleGovernor::Settings s;
    s.enabled = max_sleep_us != 0;
    s.spin_cycles = rte_get_tsc_hz() / 1'000'000 * kSpinUs;
    s.max_sleep_ns = uint64_t{max_sleep_us} * 1000;
    s.first_sleep_ns = std::min(kFirstSleepNs, s.max_sleep_ns);
    return s;
}

int Worker::run(void* arg) {
    auto& w = *static_cast<Worker*>(arg);
    IdleGovernor idle(w.idle);
    if (w.idle.enabled) {
        // The kernel may end a sleep this much late to merge wake-ups; an
        // eighth of the longest sleep keeps that small beside the sleep itself
        // (the default slack, 50 µs, could double a short one).
        prctl(PR_SET_TIMERSLACK, std::max<unsigned long>(1000, w.idle.max_sleep_ns / 8), 0, 0, 0);
    }
    // Waiting for an interrupt needs one from every port this worker reads.
    w.waits_for_rx = w.idle.enabled && !w.wake_ports.empty() && register_wake_ports(w.wake_ports, true);
    if (!w.waits_for_rx && !w.wake_ports.empty()) register_wake_ports(w.wake_ports, false);
    const double ns_per_cycle = 1e9 / static_cast<double>(rte_get_tsc_hz());
    uint64_t asleep_cycles = 0;

    if (w.tables) w.tables->reader_online(w.reader_id);
    // The stop flag is read once per turn of the loop, not per packet.
    while (!w.stop->load(std::memory_order_relaxed)) {
        uint32_t moved = 0;
        for (Direction* d : w.directions) moved += d->poll();
        // No reference to the classifier tables survives this point.
        if (w.tables) w.tables->quiescent(w.reader_id);
        if (moved != 0) {
            idle.on_traffic();
            continue;
        }
        bool holding = false;
        for (Direction* d : w.directions) holding |= d->queued() != 0;
        const uint64_t now = rte_rdtsc();
        uint64_t ns = idle.on_empty_turn(now, holding);
        // While other workers send below a shared class, this one's part
        // in dividing it falls due every period, asleep or not.
        bool share_due = false;
        for (Direction* d : w.directions) {
            const uint64_t due = d->share_due();
            if (due == UINT64_MAX) continue;
            share_due = true;
            ns = std::min(ns, due > now ? static_cast<uint64_t>(static_cast<double>(due - now) * ns_per_cycle) : 0);
        }
        if (ns == 0) {
            rte_pause();
            continue;
        }
        if (w.waits_for_rx && !share_due) {
            arm_wake_ports(w.wake_ports, true);
            // A packet that came before the interrupt was armed raises none:
            // look once more before waiting.
            uint32_t late = 0;
            for (Direction* d : w.directions) late += d->poll();
            if (w.tables) w.tables->quiescent(w.reader_id);
            if (late == 0) {
                if (w.tables) w.tables->reader_pause(w.reader_id);
                const uint64_t t0 = rte_rdtsc();
                rte_epoll_event events[8];
                const int woke = rte_epoll_wait(RTE_EPOLL_PER_THREAD, events, 8, kInterruptWaitMs);
                asleep_cycles += rte_rdtsc() - t0;
                if (w.tables) w.tables->reader_resume(w.reader_id);
                // A packet is on its way: poll (and spin) until it is in the
                // port's ring. A wake-up socket may hear of a frame a few
                // microseconds before the port's own socket has it; waiting
                // again at once would leave it there until the next frame.
                if (woke > 0) idle.on_traffic();
            } else {
                idle.on_traffic();
            }
            arm_wake_ports(w.wake_ports, false);
            continue;
        }
        // Offline while asleep: a policy load's grace period does not wait
        // for a thread that reads no tables. Live changes wait in their ring
        // and are served on the next turn, at most one sleep later.
        if (w.tables) w.tables->reader_pause(w.reader_id);
        const uint64_t t0 = rte_rdtsc();
        sleep_ns(ns);
        asleep_cycles += rte_rdtsc() - t0;
        if (w.tables) w.tables->reader_resume(w.reader_id);
    }
    if (w.tables) w.tables->reader_offline(w.reader_id);
    if (w.waits_for_rx) register_wake_ports(w.wake_ports, false);
    w.sleeps = idle.sleeps();
    w.slept_ns = static_cast<uint64_t>(static_cast<double>(asleep_cycles) * ns_per_cycle);

    // Shutdown: receive nothing more, let what is queued leave, then free
    // (and count) whatever the ports would not take in time.
    const uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * w.drain_ms;
    bool empty = false;
    while (!empty && rte_get_timer_cycles() < deadline) {
        empty = true;
        for (Direction* d : w.directions) empty &= d->flush();
        if (!empty) rte_pause();
    }
    for (Direction* d : w.directions) d->discard();
    return 0;
}

}  // namespace sluice::dataplane
