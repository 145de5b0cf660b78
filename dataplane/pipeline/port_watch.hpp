// A watchdog over the ports: once a second it samples each port's kernel
// interface (link, rx counter), the XDP program of af_xdp ports and the
// port's own rx counter, judges them with a DeliveryCheck, and logs a line
// when a port stops or starts delivering again. `status` reads the result.
//
// Runs on its own thread, off the packet path: it reads counters the way
// `stats` does and writes nothing the workers read.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "dataplane/port.hpp"
#include "dataplane/port_health.hpp"

namespace sluice::dataplane {

// Whether an XDP program is attached to the interface; nothing when it
// cannot be asked (no such interface, no netlink).
std::optional<bool> xdp_program_attached(const std::string& ifname);

class PortWatch {
public:
    // Takes a first sample at once, then one every `period` until destroyed.
    explicit PortWatch(std::vector<const Port*> ports, std::chrono::seconds period = std::chrono::seconds(1));
    ~PortWatch();
    PortWatch(const PortWatch&) = delete;
    PortWatch& operator=(const PortWatch&) = delete;

    // The latest judgement on `port` (delivering when it is not watched).
    PortHealth health(const Port* port) const;

private:
    void run();
    void check_all();

    struct Watched {
        const Port* port;
        DeliveryCheck check;
        PortHealth health;
    };
    std::vector<Watched> watched_;
    std::chrono::seconds period_;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace sluice::dataplane
