// [management]: the gateway's own addresses and the services on them whose
// traffic the XDP program hands to the kernel instead of shaping.
#pragma once

#include <toml++/toml.h>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

void read_management(const toml::node* node, Management& out, DiagnosticSink& sink);

}  // namespace sluice::policy
