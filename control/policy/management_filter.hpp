// A policy's [management] section in the terms its enforcers take
// (dataplane::ManagementFilter): the XDP program of af_xdp ports and the
// exception path of ports the kernel cannot see. Neither of them knows the
// policy language; this is where it is translated.
#pragma once

#include "control/policy/policy.hpp"
#include "dataplane/management_filter.hpp"

namespace sluice::policy {

// IPv4 prefixes become IPv4-mapped (::ffff:a.b.c.d, length + 96); each
// service's port ranges become one entry per range, a service without ports
// one entry for every port (0..0).
dataplane::ManagementFilter compile_management(const Management& m);

}  // namespace sluice::policy
