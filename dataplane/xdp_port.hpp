// How an af_xdp port runs Sluice's management XDP program (bpf/).
//
// DPDK 22.11's net_af_xdp driver (linked with libxdp on Debian 12) attaches
// a program of our choosing only through its devarg xdp_prog=<object file>:
// it loads the file with libbpf, attaches it to the interface and puts each
// AF_XDP socket it creates into the program's map named xsks_map. No devarg
// in 22.11 takes an already loaded program or map, and only the driver
// holds the sockets, so the map cannot be filled from outside either. Hence:
// the object embedded in sluiced is written to a private file before the
// EAL probes the port, the driver loads and attaches it, and Port::open then
// finds the attached program on the interface and takes charge of it
// (bpf::ManagementProgram::adopt): maps, counters, removal.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace sluice::dataplane {

// Where sluiced writes the program's object for the driver.
inline constexpr char kXdpObjectDirectory[] = "/run/sluice/xdp";

// `devargs` with xdp_prog=<object> added when it is a net_af_xdp device that
// names no program of its own; the object is written into `directory` then.
// Other devargs come back unchanged.
Result<std::string> with_management_program(const std::string& devargs,
                                            const std::string& directory = kXdpObjectDirectory);

// The same for every --vdev of an EAL command line.
Result<std::vector<std::string>> with_management_program(std::vector<std::string> eal_args,
                                                         const std::string& directory = kXdpObjectDirectory);

// Whether devargs name an XDP program for the driver (xdp_prog=...).
bool names_xdp_program(const std::string& devargs);

}  // namespace sluice::dataplane
