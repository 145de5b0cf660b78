// Human-readable output of sluicectl, one renderer per request.
#pragma once

#include <string>

#include "control/server/protocol.hpp"

namespace sluice::control {

std::string render(const std::string& request, const json& result);

}  // namespace sluice::control
