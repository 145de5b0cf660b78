// The management XDP program (management.bpf.c) on one interface: its maps
// filled from a ManagementFilter and refilled live, its verdict counters,
// and its removal when the owner goes.
//
// On af_xdp ports DPDK's net_af_xdp driver attaches the program itself
// (devarg xdp_prog=<object file>, see dataplane/xdp_port.hpp), because only
// the driver holds the AF_XDP sockets that must go into the program's
// xsks_map. This type then finds the attached program through the
// interface and takes charge of it: `adopt`. Tests that need no interface
// `load` the program without attaching it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/counter_fields.hpp"
#include "common/result.hpp"
#include "dataplane/management_filter.hpp"

namespace sluice::bpf {

// A file descriptor closed by its destructor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd();
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// Frames per verdict since the program was loaded, summed over CPUs.
struct ManagementCounters {
    uint64_t to_kernel = 0;   // management traffic, passed to the kernel
    uint64_t to_socket = 0;   // redirected to the AF_XDP socket of its queue
    uint64_t no_socket = 0;   // no socket on its queue: passed to the kernel
    uint64_t malformed = 0;   // headers cut short: redirected, the data plane counts it
};

// ManagementCounters for every renderer (see common/counter_fields.hpp).
inline constexpr CounterField<ManagementCounters> kManagementProgramFields[] = {
    {"to_kernel", &ManagementCounters::to_kernel, "to_kernel_total",
     "the gateway's own frames the XDP program passed to the kernel"},
    {"to_socket", &ManagementCounters::to_socket, "to_socket_total",
     "frames the XDP program redirected to the port's AF_XDP socket"},
    {"no_socket", &ManagementCounters::no_socket, "no_socket_total",
     "frames passed to the kernel because no AF_XDP socket was bound to their queue"},
    {"malformed", &ManagementCounters::malformed, "malformed_total",
     "frames with headers cut short, redirected for the data plane to count"},
};

// The program's maps, for readers that look inside (tests, diagnostics).
struct ManagementMaps {
    int addresses = -1, services = -1, ethertypes = -1, config = -1, counters = -1, sockets = -1;
};

class ManagementProgram {
public:
    // The program attached to `interface` (by the af_xdp driver), when it is
    // Sluice's; the destructor detaches it.
    static Result<std::unique_ptr<ManagementProgram>> adopt(const std::string& interface);
    // The program loaded into the kernel (the verifier passed it), attached
    // nowhere.
    static Result<std::unique_ptr<ManagementProgram>> load();
    ~ManagementProgram();
    ManagementProgram(const ManagementProgram&) = delete;
    ManagementProgram& operator=(const ManagementProgram&) = delete;

    // Makes the maps say `filter`, while the program runs: new entries go in
    // before stale ones come out, so traffic that is management before and
    // after never reaches the data plane in between. A filter that does not
    // fit the maps is refused before anything changes. Returns the number of
    // map entries the filter needs.
    Result<size_t> apply(const dataplane::ManagementFilter& filter);
    ManagementCounters counters() const;

    const std::string& interface() const { return interface_; }  // empty after load()
    uint32_t program_id() const { return id_; }
    int program_fd() const { return prog_.get(); }
    ManagementMaps maps() const;

private:
    ManagementProgram() = default;
    static Result<std::unique_ptr<ManagementProgram>> from_program(Fd prog);

    std::string interface_;
    int ifindex_ = 0;
    uint32_t id_ = 0;
    Fd prog_;
    Fd addresses_, services_, ethertypes_, config_, counters_, sockets_;
};

// Before a Sluice port attaches the program to `interface`: removes a
// Sluice management program that a killed run left there (true when one was
// removed). Another program on the interface is not Sluice's to remove: the
// error names the interface and the command that removes it by hand.
Result<bool> clear_stale_program(const std::string& interface);

// Whether the program with this id is Sluice's management program.
bool is_management_program(uint32_t id);

// Writes the program's object file (ELF, embedded in this binary at build
// time) into `directory` for a loader that takes a path, the af_xdp driver:
// the directory is made 0700 if missing and refused if others can write to
// it or it is not a directory; the file is written whole, then renamed into
// place, mode 0600. Returns the file's path.
Result<std::string> write_object_file(const std::string& directory);

}  // namespace sluice::bpf
