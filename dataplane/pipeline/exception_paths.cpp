#include "dataplane/pipeline/exception_paths.hpp"

#include <fmt/format.h>

namespace sluice::dataplane {

Result<std::unique_ptr<ExceptionPaths>> ExceptionPaths::open(const Settings& s, const Port& lan, const Port& wan,
                                                            rte_mempool* pool,
                                                            const classifier::TablePublisher& readers) {
    std::unique_ptr<ExceptionPaths> paths(new ExceptionPaths(readers));
    const std::array<const Port*, 2> ports{&lan, &wan};
    const std::array<const std::string*, 2> names{&s.lan_tap, &s.wan_tap};
    for (size_t i = 0; i < 2; ++i) {
        const Port& port = *ports[i];
        const KernelAccess access = port.kernel_access();
        paths->kernel_copy_[i] = access == KernelAccess::copy;
        if (names[i]->empty()) {
            if (access == KernelAccess::none) {
                paths->unreachable_[i] = fmt::format(
                    "{} port {} ({}): the kernel cannot see its frames, so the gateway's own traffic on it is "
                    "bridged like any other; name a kernel interface for it with --management-tap-{}",
                    port.role(), port.name(), port.driver(), port.role());
            }
            continue;
        }
        // A second way into the kernel would hand it every own frame twice.
        const std::string iface = port.interface().empty() ? std::string("its interface") : port.interface();
        if (access == KernelAccess::copy) {
            return Error{fmt::format("--management-tap-{}: the {} port {} is {}: the kernel "
                                     "already receives its frames on {}; leave the option out",
                                     port.role(), port.role(), port.name(),
                                     port.driver() == "net_pcap" ? "a pcap port on a live interface" : "an af_packet port",
                                     iface)};
        }
        if (access == KernelAccess::xdp_program) {
            return Error{fmt::format("--management-tap-{}: the {} port {} is an af_xdp port: its XDP program "
                                     "hands the gateway's own frames to the kernel on {}; leave the option out",
                                     port.role(), port.role(), port.name(), iface)};
        }
        auto tap = ExceptionPort::open({port.role(), *names[i], port.id(), s.descriptors}, pool);
        if (!tap) return Error{tap.error()};
        paths->taps_[i] = std::move(*tap);
    }
    return paths;
}

void ExceptionPaths::wire(DirectionConfig& upload, DirectionConfig& download) {
    ExceptionPort* lan = taps_[0].get();
    ExceptionPort* wan = taps_[1].get();
    // A port whose frames the kernel gets a copy of (af_packet) needs the
    // matcher too, without a tap: its own frames are the kernel's already,
    // and bridging them as well would send them on to the other side.
    upload.ingress_tap = lan;
    upload.management = lan || kernel_copy_[0] ? &slot_ : nullptr;
    upload.egress_tap = wan;
    download.ingress_tap = wan;
    download.management = wan || kernel_copy_[1] ? &slot_ : nullptr;
    download.egress_tap = lan;
}

void ExceptionPaths::add_wake_sources(Worker& upload, Worker& download) const {
    // Download transmits on the LAN port, upload on the WAN port.
    const std::array<Worker*, 2> sender{&download, &upload};
    for (size_t i = 0; i < 2; ++i) {
        if (taps_[i] && taps_[i]->rx_interrupts() && !sender[i]->wake_ports.empty())
            sender[i]->wake_ports.push_back({taps_[i]->id(), nullptr});
    }
}

std::vector<std::string> ExceptionPaths::unreachable() const {
    std::vector<std::string> out;
    for (const auto& m : unreachable_)
        if (!m.empty()) out.push_back(m);
    return out;
}

std::vector<std::string> ExceptionPaths::describe_counters() const {
    std::vector<std::string> out;
    for (const auto& t : taps_) {
        if (!t) continue;
        const ExceptionStats st = t->stats();
        std::string line = fmt::format("exception {} iface={}", t->role(), t->interface());
        for (const auto& f : kExceptionFields) line += fmt::format(" {}={}", f.name, st.*f.member);
        out.push_back(std::move(line));
    }
    return out;
}

}  // namespace sluice::dataplane
