// [management]: the gateway's own addresses and the services on them whose
// traffic the XDP program is to hand to the kernel instead of shaping. That
// bypass does not exist yet: a non-empty section is read, validated and kept
// for `policy save`, with a warning that it is not enforced.
#pragma once

#include <toml++/toml.h>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

void read_management(const toml::node* node, Management& out, DiagnosticSink& sink);

}  // namespace sluice::policy
