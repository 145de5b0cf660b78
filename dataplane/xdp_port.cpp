#include "dataplane/xdp_port.hpp"

#include "bpf/management_program.hpp"
#include "dataplane/eal.hpp"

namespace sluice::dataplane {

namespace {

bool is_af_xdp(const std::string& devargs) { return device_name(devargs).rfind("net_af_xdp", 0) == 0; }

}  // namespace

bool names_xdp_program(const std::string& devargs) {
    return devargs.find(",xdp_prog=") != std::string::npos;
}

Result<std::string> with_management_program(const std::string& devargs, const std::string& directory) {
    if (!is_af_xdp(devargs) || names_xdp_program(devargs)) return devargs;
    auto path = bpf::write_object_file(directory);
    if (!path) return Error{device_name(devargs) + ": cannot provide the management XDP program: " + path.error()};
    return devargs + ",xdp_prog=" + *path;
}

Result<std::vector<std::string>> with_management_program(std::vector<std::string> eal_args,
                                                         const std::string& directory) {
    for (size_t i = 1; i < eal_args.size(); ++i) {
        if (eal_args[i - 1] != "--vdev") continue;
        auto d = with_management_program(eal_args[i], directory);
        if (!d) return Error{d.error()};
        eal_args[i] = std::move(*d);
    }
    return eal_args;
}

}  // namespace sluice::dataplane
