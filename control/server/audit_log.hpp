// The audit log: who asked the daemon to change what, and what it refused
// for lack of privilege. It writes to the same sinks as the daemon's log but
// keeps its own level, so `log level off` silences diagnostics, never the
// record of privileged requests.
#pragma once

#include <spdlog/spdlog.h>

namespace sluice::control {

// The audit logger; made on first use from the default logger's sinks, so
// call it only after the daemon's logging is set up.
spdlog::logger& audit_log();

}  // namespace sluice::control
