#include "control/server/command_table.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/server/audit_log.hpp"

namespace sluice::control {
namespace {

// The arguments as the audit log shows them: long strings (a policy sent as
// text) by their size, not their content.
std::string audit_text(const json& args) {
    json shown = args;
    for (auto& [key, value] : shown.items()) {
        if (value.is_string() && value.get_ref<const std::string&>().size() > 200) {
            value = fmt::format("<{} bytes>", value.get_ref<const std::string&>().size());
        }
    }
    return shown.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const char* role_name(Role r) {
    switch (r) {
    case Role::none: return "none";
    case Role::member: return "member";
    case Role::root: return "root";
    }
    return "?";
}

std::string CommandTable::dispatch(const Request& req, const Peer& peer) const {
    if (peer.role == Role::none) {
        audit_log().warn("control: '{}' refused to pid {} uid {}: neither root nor in group {}", req.cmd, peer.pid,
                         peer.uid, group_);
        return error_response(req.id, fmt::format("permission denied: uid {} is neither root nor in group '{}' "
                                                  "(the privilege model is in docs/operations.md)",
                                                  peer.uid, group_));
    }
    auto it = commands_.find(req.cmd);
    if (it == commands_.end()) {
        std::string known;
        for (const auto& [name, spec] : commands_) known += (known.empty() ? "" : ", ") + name;
        return error_response(req.id, fmt::format("unknown command '{}'; known commands: {}", req.cmd, known));
    }
    const CommandSpec& spec = it->second;
    if (spec.access == Access::root && peer.role != Role::root) {
        audit_log().warn("control: '{}' refused to pid {} uid {}: root only", req.cmd, peer.pid, peer.uid);
        return error_response(req.id, fmt::format("permission denied: '{}' is for root only; members of group '{}' "
                                                  "may look and shape (docs/operations.md)",
                                                  req.cmd, group_));
    }
    if (spec.changes_state) {
        audit_log().info("control: '{}' {} from pid {} uid {} ({})", req.cmd,
                         audit_text(req.args), peer.pid, peer.uid,
                         role_name(peer.role));
    }
    try {
        auto r = spec.handler(req.args, peer);
        if (!r) {
            if (spec.changes_state) audit_log().warn("control: '{}' from uid {} refused: {}", req.cmd, peer.uid, r.error());
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
