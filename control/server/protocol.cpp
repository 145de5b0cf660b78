#include "control/server/protocol.hpp"

#include <fmt/format.h>

namespace sluice::control {
namespace {

// A streaming pass over a request that only measures it: how deep its
// objects and arrays nest. It stops at the first level too deep, so a line
// of 100,000 '[' costs as much as 17 of them, and no document is built.
class DepthProbe final : public nlohmann::json_sax<json> {
public:
    explicit DepthProbe(unsigned limit) : limit_(limit) {}

    bool too_deep() const { return too_deep_; }
    bool malformed() const { return malformed_; }

    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return enter(); }
    bool end_object() override { return leave(); }
    bool start_array(std::size_t) override { return enter(); }
    bool end_array() override { return leave(); }
    bool key(string_t&) override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        malformed_ = true;
        return false;
    }

private:
    bool enter() {
        if (++depth_ > limit_) {
            too_deep_ = true;
            return false;
        }
        return true;
    }
    bool leave() {
        --depth_;
        return true;
    }

    unsigned limit_;
    unsigned depth_ = 0;
    bool too_deep_ = false;
    bool malformed_ = false;
};

constexpr const char* kNotJson =
    "request is not valid JSON; send one JSON object per line, e.g. {\"id\":1,\"cmd\":\"status\"}";

}  // namespace

Result<Request> parse_request(std::string_view line, json& id) {
    id = nullptr;
    DepthProbe probe(kMaxRequestDepth);
    json::sax_parse(line.begin(), line.end(), &probe);
    if (probe.too_deep()) {
        return Error{fmt::format("request nests objects and arrays deeper than {} levels; refused unread",
                                 kMaxRequestDepth)};
    }
    if (probe.malformed()) return Error{kNotJson};

    json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Error{kNotJson};
    if (!doc.is_object()) {
        return Error{fmt::format("request must be a JSON object, not {}; e.g. {{\"cmd\":\"status\"}}",
                                 doc.type_name())};
    }
    if (auto it = doc.find("id"); it != doc.end()) {
        if (!it->is_string() && !it->is_number() && !it->is_null()) {
            return Error{fmt::format("'id' must be a string, a number or null, not {}", it->type_name())};
        }
        if (it->is_string() && it->get_ref<const std::string&>().size() > kMaxIdBytes) {
            return Error{fmt::format("'id' is longer than {} bytes", kMaxIdBytes)};
        }
        id = *it;
    }
    Request r;
    r.id = id;
    for (const auto& [key, value] : doc.items()) {
        if (key != "id" && key != "cmd" && key != "args" && key != "progress") {
            return Error{fmt::format("unknown request field '{}'; a request has id, cmd, args and progress", key)};
        }
    }
    if (auto progress = doc.find("progress"); progress != doc.end()) {
        if (!progress->is_boolean()) {
            return Error{fmt::format("'progress' must be true or false, not {}", progress->type_name())};
        }
        r.progress = progress->get<bool>();
    }
    auto cmd = doc.find("cmd");
    if (cmd == doc.end()) return Error{"request has no 'cmd'; e.g. {\"cmd\":\"status\"}"};
    if (!cmd->is_string()) return Error{fmt::format("'cmd' must be a string, not {}", cmd->type_name())};
    r.cmd = cmd->get<std::string>();
    if (auto args = doc.find("args"); args != doc.end()) {
        if (!args->is_object()) return Error{fmt::format("'args' must be an object, not {}", args->type_name())};
        r.args = std::move(*args);
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

std::string working_line(const json& id, std::string_view cmd, std::string_view state, int64_t elapsed_ms) {
    json r{{"id", id}, {"working", cmd}, {"state", state}, {"elapsed_ms", elapsed_ms},
           {"deadline_ms", kProgressDeadlineMs}};
    return r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool is_working_line(const json& line) {
    return line.is_object() && line.contains("working") && !line.contains("ok");
}

}  // namespace sluice::control
