// libFuzzer harness for the control request decoder and the responses built
// from what it decoded (control/server/protocol.hpp).
//
// Input: one request line, any bytes. Decoding must not crash and must either
// give a request or an error message; the response built either way must be
// exactly one line of JSON that decodes back to the same id, the same outcome
// and, for a request, the same command and arguments.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/server/protocol.hpp"

using namespace sluice::control;

namespace {

[[noreturn]] void fail(const char* what, std::string_view line, std::string_view response) {
    std::fprintf(stderr, "control protocol broken: %s\n--- request\n%.*s\n--- response\n%.*s\n", what,
                 static_cast<int>(line.size()), line.data(), static_cast<int>(response.size()),
                 response.data());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    json id = "stale";  // parse_request must overwrite it
    sluice::Result<Request> request = parse_request(line, id);

    std::string response;
    if (request) {
        if (request->id != id) fail("the request's id is not the id reported", line, {});
        if (!request->args.is_object()) fail("args is not an object", line, {});
        // What a handler would do: answer with what it was asked.
        response = ok_response(request->id, json{{"cmd", request->cmd}, {"args", request->args}});
    } else {
        if (request.error().empty()) fail("an error without a message", line, {});
        response = error_response(id, request.error());
    }

    if (response.empty() || response.find('\n') != response.size() - 1) {
        fail("a response is not exactly one line", line, response);
    }
    const json back = json::parse(std::string_view(response).substr(0, response.size() - 1), nullptr, false);
    if (back.is_discarded() || !back.is_object()) fail("a response is not a JSON object", line, response);
    if (!back.contains("id") || back["id"] != id) fail("a response does not echo the id", line, response);
    if (!back.contains("ok") || back["ok"] != request.ok()) fail("a response's ok is wrong", line, response);
    if (request) {
        const json& result = back["result"];
        if (result["cmd"] != request->cmd || result["args"] != request->args) {
            fail("the command and arguments do not survive a response", line, response);
        }
    } else if (back["error"] != request.error()) {
        fail("the error message does not survive a response", line, response);
    }
    return 0;
}
