// Counters as log lines: one key=value line per direction and per port, so an
// operator can read them and a script can grep them.
#pragma once

#include <string>

#include "dataplane/daemon/direction.hpp"
#include "dataplane/port.hpp"

namespace sluice::dataplane {

std::string format_counters(const std::string& direction, const DirectionCounters& c);
std::string format_port_stats(const Port& port);
// Cycles per received packet by stage (a -Dstage_cycles=true build).
std::string format_stage_cycles(const std::string& direction, const StageClock& clock, uint64_t packets);

}  // namespace sluice::dataplane
