#include "dataplane/daemon/service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

#include <cstring>
#include <ctime>

namespace sluice::dataplane {
namespace {

void send(const std::string& state) {
    const int rc = sd_notify(0, state.c_str());
    if (rc < 0) spdlog::warn("cannot notify the service manager: {}", std::strerror(-rc));
}

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }

void notify_reloading() {
    // systemd wants the monotonic time of the reload's start with RELOADING=1.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const unsigned long long usec =
        static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_stopping() { send("STOPPING=1"); }

}  // namespace sluice::dataplane
