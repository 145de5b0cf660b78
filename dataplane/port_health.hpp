// Whether a port still delivers what arrives on its link: the judgement made
// from one sample a second, kept apart from how the samples are taken so that
// it can be tested with made-up counters.
//
// Expects:  samples in time order, one per period, of one port.
// Reports:  delivering, or why not: the link is down, the interface is gone,
//           the port's XDP program is no longer attached (af_xdp), or the
//           kernel counted packets arriving on the interface for a whole
//           window while the port received none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/kernel_link.hpp"

namespace sluice::dataplane {

enum class PortCondition { delivering, link_down, no_xdp_program, stalled };

const char* port_condition_name(PortCondition c);

struct PortHealth {
    PortCondition condition = PortCondition::delivering;
    std::string reason;  // empty while delivering
    bool delivering() const { return condition == PortCondition::delivering; }
};

struct PortSample {
    std::string interface;               // empty: no kernel interface behind the port
    KernelLink link;                     // read when `interface` is set
    bool driver_link_up = true;          // the driver's report, for ports without an interface
    std::optional<bool> xdp_attached;    // af_xdp ports only
    std::optional<uint64_t> kernel_rx;   // packets the kernel counted arriving on the interface
    uint64_t port_rx = 0;                // packets the port received (or missed: ring full)
};

class DeliveryCheck {
public:
    // A stall is declared after `window` samples in which the kernel counted
    // at least `min_packets` arriving and the port's counter did not move;
    // `period_s` (the time between samples) is only for the message.
    explicit DeliveryCheck(unsigned window = 3, uint64_t min_packets = 3, unsigned period_s = 1)
        : window_(window), min_packets_(min_packets), period_s_(period_s) {}

    PortHealth update(const PortSample& s);

private:
    unsigned window_;
    uint64_t min_packets_;
    unsigned period_s_;
    // The counters when the port's counter last moved, and samples since.
    std::optional<uint64_t> kernel_mark_;
    uint64_t port_mark_ = 0;
    unsigned quiet_samples_ = 0;
};

}  // namespace sluice::dataplane
