// The exception paths of the bridge's two ports: a tap (ExceptionPort) for
// each port that has a kernel interface named in the settings
// (--management-tap-lan / --management-tap-wan), the management matcher the
// directions read, and the one call that changes it.
//
// Expects:  the ports open; a tap only for a port the kernel cannot see
//           otherwise (af_packet and af_xdp ports are refused, with why).
// Control:  set_management() on every policy change; ports the kernel
//           cannot see and that have no tap are listed by unreachable(), for
//           a warning when the policy has a [management] section.
#pragma once

#include <rte_mempool.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "classifier/table_publisher.hpp"
#include "common/result.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/management_slot.hpp"
#include "dataplane/pipeline/worker.hpp"
#include "dataplane/exception_port.hpp"
#include "dataplane/port.hpp"

namespace sluice::dataplane {

class ExceptionPaths {
public:
    struct Settings {
        std::string lan_tap;  // kernel interface for the LAN port's own traffic; empty: none
        std::string wan_tap;
        uint16_t descriptors = 512;
    };

    // `readers`: the publisher whose readers are the workers (the matcher
    // is retired with its grace period).
    static Result<std::unique_ptr<ExceptionPaths>> open(const Settings& settings, const Port& lan, const Port& wan,
                                                         rte_mempool* pool,
                                                         const classifier::TablePublisher& readers);

    // Gives the directions their taps and the matcher: upload receives from
    // the LAN port and transmits on the WAN port, download the reverse.
    void wire(DirectionConfig& upload, DirectionConfig& download);

    // Control thread, on every policy change: the gateway's own traffic
    // from now on (null or empty: none). Returns once no worker reads the
    // previous matcher.
    void set_management(std::shared_ptr<const ManagementMatch> match) { slot_.publish(std::move(match)); }
    std::shared_ptr<const ManagementMatch> management() const { return slot_.current_owned(); }

    // Each tap's rx interrupt becomes a wake source of the worker that
    // sends the tap's frames (the one transmitting on its port), when that
    // worker waits for its ports' interrupts: the kernel's frames then leave
    // without waiting for the next packet. Call after the workers' own
    // wake sources are set.
    void add_wake_sources(Worker& upload, Worker& download) const;

    // The tap of the LAN (0) or WAN (1) port; null when it has none.
    const ExceptionPort* tap(size_t side) const { return taps_[side].get(); }

    // One message per port whose frames the kernel cannot see at all (no
    // af_packet copy, no XDP program, no tap): where a [management] section
    // cannot apply, and what to do about it.
    std::vector<std::string> unreachable() const;

    // "exception lan iface=… to_kernel=… …" lines for the log.
    std::vector<std::string> describe_counters() const;

private:
    ExceptionPaths(const classifier::TablePublisher& readers) : slot_(readers) {}

    std::array<std::unique_ptr<ExceptionPort>, 2> taps_;
    std::array<std::string, 2> unreachable_;
    std::array<bool, 2> kernel_copy_{};  // the kernel gets a copy of the port's frames
    ManagementSlot slot_;
};

}  // namespace sluice::dataplane
