// The control commands that sluiced itself answers (status, statistics,
// ports, log level), registered on the control socket's command table.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "control/server/command_table.hpp"
#include "dataplane/pipeline/direction_group.hpp"
#include "control/runtime/policy_runtime.hpp"
#include "dataplane/pipeline/exception_paths.hpp"
#include "dataplane/pipeline/port_watch.hpp"
#include "dataplane/port.hpp"

namespace sluice::runtime {

struct DaemonView {
    std::vector<const dataplane::Port*> ports;
    std::vector<const dataplane::DirectionGroup*> directions;  // each summed over its workers
    std::chrono::steady_clock::time_point started;
    unsigned control_lcore = 0;
    std::vector<unsigned> worker_lcores;
    std::string memory;  // what the memory probe chose, as logged
    std::string socket;
    std::string policy_dir;  // where members may name policy files
    const PolicyRuntime* policy = nullptr;
    const dataplane::PortWatch* watch = nullptr;  // whether each port delivers; none: not watched
    // Taps for the gateway's own traffic, by port (null: none at all).
    const dataplane::ExceptionPaths* exception = nullptr;
};

// Registers the commands; `view` must outlive the table's use.
void register_daemon_commands(control::CommandTable& table, const DaemonView& view);

// The counters as JSON, as `stats` returns them (before any reset baseline):
// summed over the direction's workers, and each worker's load under
// "workers" (by index: packets, hand-offs, busy cycles, queued).
control::json direction_json(const dataplane::DirectionGroup& d);
// A port's counters; with its XDP program's verdicts ("xdp") and its
// exception tap's counters ("exception") where it has them.
control::json port_json(const dataplane::Port& p, const dataplane::ExceptionPort* tap = nullptr);

}  // namespace sluice::runtime
