#include "dataplane/port_health.hpp"

#include <fmt/format.h>

namespace sluice::dataplane {

const char* port_condition_name(PortCondition c) {
    switch (c) {
    case PortCondition::delivering: return "delivering";
    case PortCondition::link_down: return "link_down";
    case PortCondition::no_xdp_program: return "no_xdp_program";
    case PortCondition::stalled: return "stalled";
    }
    return "unknown";
}

PortHealth DeliveryCheck::update(const PortSample& s) {
    auto restart = [this, &s] {
        kernel_mark_ = s.kernel_rx;
        port_mark_ = s.port_rx;
        quiet_samples_ = 0;
    };
    if (!s.interface.empty() && !s.link.up()) {
        restart();
        return {PortCondition::link_down, s.link.describe(s.interface)};
    }
    if (s.interface.empty() && !s.driver_link_up) {
        restart();
        return {PortCondition::link_down, "link down (as the driver reports it)"};
    }
    if (s.xdp_attached && !*s.xdp_attached) {
        restart();
        return {PortCondition::no_xdp_program,
                fmt::format("no XDP program is attached to interface {} any more (removed by hand, or by another "
                            "program that used the interface); packets reach the kernel instead: restart sluiced",
                            s.interface)};
    }
    // A counter that moved, went backwards (interface re-created) or cannot
    // be read starts the window again.
    if (!s.kernel_rx || !kernel_mark_ || *s.kernel_rx < *kernel_mark_ || s.port_rx != port_mark_) {
        restart();
        return {};
    }
    ++quiet_samples_;
    const uint64_t arrived = *s.kernel_rx - *kernel_mark_;
    if (quiet_samples_ >= window_ && arrived >= min_packets_) {
        return {PortCondition::stalled,
                fmt::format("{} packets arrived on interface {} in the last {} s and the port received none",
                            arrived, s.interface, quiet_samples_ * period_s_)};
    }
    return {};
}

}  // namespace sluice::dataplane
