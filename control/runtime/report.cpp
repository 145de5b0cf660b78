#include "control/runtime/report.hpp"

#include <fmt/format.h>

namespace sluice::runtime {

using namespace dataplane;

std::string format_counters(const std::string& direction, const DirectionCounters& c) {
    std::string s = fmt::format("counters direction={}", direction);
    for (const auto& f : kDirectionFields) s += fmt::format(" {}={}", f.name, c.*f.member);
    s += fmt::format(" dropped={}", c.dropped());
    for (unsigned r = 0; r < kDropReasonCount; ++r) {
        s += fmt::format(" drop_{}={}", drop_reason_name(static_cast<DropReason>(r)), c.drops[r]);
    }
    // Malformed frames by cause, only the causes seen, to keep the line short.
    for (unsigned e = 1; e < kParseErrorCount; ++e) {
        if (c.malformed_by_error[e] != 0) {
            s += fmt::format(" malformed_{}={}", parse_error_name(static_cast<ParseError>(e)),
                             c.malformed_by_error[e]);
        }
    }
    return s;
}

std::string format_stage_cycles(const std::string& direction, const StageClock& clock, uint64_t packets) {
    std::string s = fmt::format("stage cycles per packet direction={} packets={}", direction, packets);
    double total = 0;
    for (unsigned i = 0; i < kStageCount; ++i) {
        const double c = packets ? static_cast<double>(clock.cycles(static_cast<Stage>(i))) / static_cast<double>(packets) : 0;
        total += c;
        s += fmt::format(" {}={:.1f}", stage_name(static_cast<Stage>(i)), c);
    }
    s += fmt::format(" total={:.1f}", total);
    return s;
}

std::string format_port_stats(const Port& port) {
    const PortStats st = port.stats();
    std::string s = fmt::format("port role={} name={}", port.role(), port.name());
    for (const auto& f : kPortFields) s += fmt::format(" {}={}", f.name, st.*f.member);
    if (const auto* program = port.management()) {
        const bpf::ManagementCounters c = program->counters();
        for (const auto& f : bpf::kManagementProgramFields) s += fmt::format(" xdp_{}={}", f.name, c.*f.member);
    }
    return s;
}

}  // namespace sluice::runtime
