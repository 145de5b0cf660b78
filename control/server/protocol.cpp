#include "control/server/protocol.hpp"

#include <fmt/format.h>

namespace sluice::control {

Result<Request> parse_request(std::string_view line, json& id) {
    id = nullptr;
    json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return Error{"request is not valid JSON; send one JSON object per line, e.g. "
                     "{\"id\":1,\"cmd\":\"status\"}"};
    }
    if (!doc.is_object()) {
        return Error{fmt::format("request must be a JSON object, not {}; e.g. {{\"cmd\":\"status\"}}",
                                 doc.type_name())};
    }
    if (auto it = doc.find("id"); it != doc.end()) id = *it;
    Request r;
    r.id = id;
    for (const auto& [key, value] : doc.items()) {
        if (key != "id" && key != "cmd" && key != "args") {
            return Error{fmt::format("unknown request field '{}'; a request has id, cmd and args", key)};
        }
    }
    auto cmd = doc.find("cmd");
    if (cmd == doc.end()) return Error{"request has no 'cmd'; e.g. {\"cmd\":\"status\"}"};
    if (!cmd->is_string()) return Error{fmt::format("'cmd' must be a string, not {}", cmd->type_name())};
    r.cmd = cmd->get<std::string>();
    if (auto args = doc.find("args"); args != doc.end()) {
        if (!args->is_object()) return Error{fmt::format("'args' must be an object, not {}", args->type_name())};
        r.args = *args;
    }
    return r;
}

std::string ok_response(const json& id, const json& result) {
    json r{{"id", id}, {"ok", true}, {"result", result}};
    // Replace invalid UTF-8 rather than throw: a response is always sent.
    return r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string error_response(const json& id, std::string_view message) {
    json r{{"id", id}, {"ok", false}, {"error", message}};
    return r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace sluice::control
