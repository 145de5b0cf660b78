#include "control/server/audit_log.hpp"

#include <memory>

namespace sluice::control {

spdlog::logger& audit_log() {
    static const std::shared_ptr<spdlog::logger> log = [] {
        const auto& sinks = spdlog::default_logger()->sinks();
        auto l = std::make_shared<spdlog::logger>("audit", sinks.begin(), sinks.end());
        // Not registered with spdlog: spdlog::set_level() would reach it there.
        l->set_level(spdlog::level::info);
        l->flush_on(spdlog::level::info);
        return l;
    }();
    return *log;
}

}  // namespace sluice::control
