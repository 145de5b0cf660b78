// Counters as log lines: one key=value line per direction and per port, so an
// operator can read them and a script can grep them.
#pragma once

#include <string>

#include "dataplane/daemon/direction.hpp"
#include "dataplane/port.hpp"

namespace sluice::dataplane {

std::string format_counters(const std::string& direction, const DirectionCounters& c);
std::string format_port_stats(const Port& port);

}  // namespace sluice::dataplane
