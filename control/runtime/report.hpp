// Counters as log lines: one key=value line per direction and per port, so an
// operator can read them and a script can grep them.
#pragma once

#include <string>

#include "dataplane/pipeline/direction.hpp"
#include "dataplane/port.hpp"

namespace sluice::runtime {

std::string format_counters(const std::string& direction, const dataplane::DirectionCounters& c);
std::string format_port_stats(const dataplane::Port& port);
// Cycles per received packet by stage (a -Dstage_cycles=true build).
std::string format_stage_cycles(const std::string& direction, const dataplane::StageClock& clock, uint64_t packets);

}  // namespace sluice::runtime
