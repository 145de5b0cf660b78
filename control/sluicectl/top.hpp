// `sluicectl top`: a live, refreshing view of what sluiced is doing now:
// rates per direction and port, computed from two successive `stats`
// answers. Quits on q (or after --iterations frames, for scripts).
#pragma once

#include "control/client/control_client.hpp"

namespace sluice::control {

struct TopOptions {
    double interval_s = 1.0;
    unsigned iterations = 0;  // 0 = until q or Ctrl-C
    bool json = false;        // one JSON object per refresh, one line each, instead of the view
};

// Returns sluicectl's exit code.
int run_top(ControlClient& client, const TopOptions& options);

// One frame of the view from two snapshots `seconds` apart (for tests).
std::string top_frame(const json& before, const json& after, double seconds, const json& status);

// The same figures as one JSON object (what --json prints per refresh):
// interval_s, daemon, and directions, ports and (with a policy) classes per
// direction with their rates per second.
json top_json(const json& before, const json& after, double seconds, const json& status);

}  // namespace sluice::control
