#include "control/policy/management_filter.hpp"

namespace sluice::policy {

namespace {

dataplane::ManagementFilter::Prefix mapped(const Prefix& p) {
    dataplane::ManagementFilter::Prefix out;
    if (p.version == 6) {
        out.addr = p.addr;
        out.length = p.length;
        return out;
    }
    out.addr[10] = 0xff;
    out.addr[11] = 0xff;
    for (int i = 0; i < 4; ++i) out.addr[12 + i] = p.addr[i];
    out.length = static_cast<uint8_t>(p.length + 96);
    return out;
}

}  // namespace

dataplane::ManagementFilter compile_management(const Management& m) {
    dataplane::ManagementFilter f;
    f.addresses.reserve(m.addresses.size());
    for (const Prefix& p : m.addresses) f.addresses.push_back(mapped(p));
    for (const Service& s : m.services) {
        if (s.ports.empty()) {
            f.services.push_back({s.protocol, 0, 0});
            continue;
        }
        for (const Range& r : s.ports) f.services.push_back({s.protocol, r.lo, r.hi});
    }
    f.ethertypes = m.ethertypes;
    return f;
}

}  // namespace sluice::policy
