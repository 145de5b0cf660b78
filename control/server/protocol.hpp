// The control protocol: newline-delimited JSON over a Unix stream socket.
//
//   request:  {"id": <string, number or null>, "cmd": "set class", "args": {...}}
//   response: {"id": <same>, "ok": true,  "result": {...}}
//             {"id": <same>, "ok": false, "error": "what is wrong and what to do"}
//
// Every request line gets exactly one response line. `id` is optional and
// echoed back; `args` is optional and must be an object when present.
//
// Long work and progress. Commands that may take seconds (loading, checking,
// diffing or saving a policy, editing its rules or meters: a policy of
// 100,000 rules compiles for seconds) run beside the control thread, which
// keeps answering other clients meanwhile; one connection's requests are
// still answered in order. A client that asks for progress
//
//   request:  {"id": 7, "cmd": "policy load", "args": {...}, "progress": true}
//
// gets, while such a command is queued or runs, interim lines before the
// response:
//
//   interim:  {"id": 7, "working": "policy load", "state": "running",
//              "elapsed_ms": 2000, "deadline_ms": 10000}
//
// An interim line is not a response: it carries neither "ok" nor "result".
// It promises that the next line for this request (another interim line
// or the response) comes within `deadline_ms` of it; a client waits that
// long past its own timeout rather than give up on work that is under way.
// Interim lines come at least every kProgressIntervalMs. Without
// "progress" (or with false) a client gets only the response, as before.
//
// A request is hostile until decoded: its nesting depth is measured by a
// streaming pass that builds nothing, and only a request within
// kMaxRequestDepth is turned into a document. The id is a scalar, so
// echoing it back copies nothing deep.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sluice::control {

using json = nlohmann::json;

// Requests longer than this are refused without being parsed. Large enough
// for a policy file sent as text (`policy load`), see kMaxPolicyTextBytes.
inline constexpr size_t kMaxRequestBytes = 16u << 20;
// Objects and arrays inside one request, the request object included.
inline constexpr unsigned kMaxRequestDepth = 16;
// An id is for matching answers to questions, not for carrying data.
inline constexpr size_t kMaxIdBytes = 256;
// How often interim "working" lines are sent, and the deadline each promises.
inline constexpr int64_t kProgressIntervalMs = 1000;
inline constexpr int64_t kProgressDeadlineMs = 10'000;

struct Request {
    json id;            // null when the client sent none
    std::string cmd;
    json args = json::object();
    bool progress = false;  // the client wants interim "working" lines
};

// Parses one request line (without its newline). On failure the error
// message says what is wrong; `id` is filled whenever it could be read.
Result<Request> parse_request(std::string_view line, json& id);

std::string ok_response(const json& id, const json& result);
std::string error_response(const json& id, std::string_view message);
// An interim line (see above); `state` is "queued" or "running".
std::string working_line(const json& id, std::string_view cmd, std::string_view state, int64_t elapsed_ms);
// True for an interim line, false for a response.
bool is_working_line(const json& line);

}  // namespace sluice::control
