// [management]: the gateway's own addresses, the services on them and the
// ethertypes whose frames go to the gateway's kernel instead of being
// bridged and shaped (compile_management turns it into what the XDP program
// and the exception paths enforce).
#pragma once

#include <toml++/toml.h>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

void read_management(const toml::node* node, Management& out, DiagnosticSink& sink);

}  // namespace sluice::policy
