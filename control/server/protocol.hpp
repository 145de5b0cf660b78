// The control protocol: newline-delimited JSON over a Unix stream socket.
//
//   request:  {"id": <string, number or null>, "cmd": "set class", "args": {...}}
//   response: {"id": <same>, "ok": true,  "result": {...}}
//             {"id": <same>, "ok": false, "error": "what is wrong and what to do"}
//
// Every request line gets exactly one response line. `id` is optional and
// echoed back; `args` is optional and must be an object when present.
//
// A request is hostile until decoded: its nesting depth is measured by a
// streaming pass that builds nothing, and only a request within
// kMaxRequestDepth is turned into a document. The id is a scalar, so
// echoing it back copies nothing deep.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "dataplane/result.hpp"

namespace sluice::control {

using json = nlohmann::json;

// Requests longer than this are refused without being parsed. Large enough
// for a policy file sent as text (`policy load`), see kMaxPolicyTextBytes.
inline constexpr size_t kMaxRequestBytes = 16u << 20;
// Objects and arrays inside one request, the request object included.
inline constexpr unsigned kMaxRequestDepth = 16;
// An id is for matching answers to questions, not for carrying data.
inline constexpr size_t kMaxIdBytes = 256;

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
