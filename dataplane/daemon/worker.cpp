#include "dataplane/daemon/worker.hpp"

#include <rte_cycles.h>
#include <rte_pause.h>

namespace sluice::dataplane {

int Worker::run(void* arg) {
    auto& w = *static_cast<Worker*>(arg);
    if (w.tables) w.tables->reader_online(w.reader_id);
    // The stop flag is read once per turn of the loop, not per packet.
    while (!w.stop->load(std::memory_order_relaxed)) {
        uint32_t moved = 0;
        for (Direction* d : w.directions) moved += d->poll();
        // No reference to the classifier tables survives this point.
        if (w.tables) w.tables->quiescent(w.reader_id);
        if (moved == 0) rte_pause();
    }
    if (w.tables) w.tables->reader_offline(w.reader_id);

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
