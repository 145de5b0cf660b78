// The control protocol: newline-delimited JSON over a Unix stream socket.
//
//   request:  {"id": <any JSON>, "cmd": "set class", "args": {...}}
//   response: {"id": <same>, "ok": true,  "result": {...}}
//             {"id": <same>, "ok": false, "error": "what is wrong and what to do"}
//
// Every request line gets exactly one response line. `id` is optional and
// echoed back; `args` is optional and must be an object when present.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "dataplane/result.hpp"

namespace sluice::control {

using json = nlohmann::json;

// Requests longer than this are refused without being parsed.
inline constexpr size_t kMaxRequestBytes = 1 << 20;

struct Request {
    json id;            // null when the client sent none
    std::string cmd;
    json args = json::object();
};

// Parses one request line (without its newline). On failure the error
// message says what is wrong; `id` is filled whenever it could be read.
Result<Request> parse_request(std::string_view line, json& id);

std::string ok_response(const json& id, const json& result);
std::string error_response(const json& id, std::string_view message);

}  // namespace sluice::control
