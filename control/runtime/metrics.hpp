// The daemon's figures for the monitoring ecosystem: Prometheus text
// exposition (served by control::MetricsServer) and DPDK telemetry commands
// (read by dpdk-telemetry.py and collectors that speak its socket).
#pragma once

#include <string>

#include "control/runtime/daemon_commands.hpp"

namespace sluice::runtime {

// Every counter as a Prometheus metric family with HELP and TYPE lines.
std::string prometheus_text(const DaemonView& view);

// Registers /sluice/stats and /sluice/ports with DPDK telemetry. DPDK's
// callbacks carry no user pointer, so `view` is remembered process-wide and
// must outlive the EAL.
void register_telemetry(const DaemonView& view);

}  // namespace sluice::runtime
