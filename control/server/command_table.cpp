#include "control/server/command_table.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace sluice::control {

std::string CommandTable::dispatch(const Request& req, const Peer& peer) const {
    auto it = commands_.find(req.cmd);
    if (it == commands_.end()) {
        std::string known;
        for (const auto& [name, spec] : commands_) known += (known.empty() ? "" : ", ") + name;
        return error_response(req.id, fmt::format("unknown command '{}'; known commands: {}", req.cmd, known));
    }
    if (it->second.changes_state) {
        spdlog::info("control: '{}' {} from pid {} uid {}", req.cmd, req.args.dump(), peer.pid, peer.uid);
    }
    try {
        auto r = it->second.handler(req.args, peer);
        if (!r) {
            if (it->second.changes_state) spdlog::warn("control: '{}' refused: {}", req.cmd, r.error());
            return error_response(req.id, r.error());
        }
        return ok_response(req.id, *r);
    } catch (const std::exception& e) {
        // A handler bug must not take the control thread down with it.
        spdlog::error("control: '{}' failed: {}", req.cmd, e.what());
        return error_response(req.id, fmt::format("internal error in '{}': {}", req.cmd, e.what()));
    }
}

bool has_arg(const json& args, const char* name) { return args.contains(name); }

Result<std::string> string_arg(const json& args, const char* name) {
    auto it = args.find(name);
    if (it == args.end()) return Error{fmt::format("missing argument '{}'", name)};
    if (!it->is_string()) return Error{fmt::format("argument '{}' must be a string, not {}", name, it->type_name())};
    return it->get<std::string>();
}

Result<int64_t> int_arg(const json& args, const char* name, int64_t lo, int64_t hi) {
    auto it = args.find(name);
    if (it == args.end()) return Error{fmt::format("missing argument '{}'", name)};
    if (!it->is_number_integer()) return Error{fmt::format("argument '{}' must be an integer, not {}", name, it->type_name())};
    const auto v = it->get<int64_t>();
    if (v < lo || v > hi) return Error{fmt::format("argument '{}' must be between {} and {}, not {}", name, lo, hi, v)};
    return v;
}

}  // namespace sluice::control
