// A client of the control socket: one connection, one request at a time.
// Links no DPDK; used by sluicectl and by tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "control/server/protocol.hpp"
#include "common/result.hpp"

namespace sluice::control {

inline constexpr const char* kDefaultSocket = "/run/sluice/sluiced.sock";

class ControlClient {
public:
    static Result<std::unique_ptr<ControlClient>> connect(const std::string& path,
                                                          std::chrono::milliseconds timeout);
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    // Sends one request and waits for its response line (the whole response
    // object: id, ok, result or error). An Error here means the daemon could
    // not be reached or answered something that is not a response.
    //
    // The request asks for progress (protocol.hpp): while sluiced says it is
    // working on it, the wait runs past the timeout, as long as each
    // interim line's deadline is met; each interim line goes to the
    // progress callback, when one is set.
    Result<json> call(const std::string& cmd, const json& args = json::object());
    void on_progress(std::function<void(const json& interim)> f) { progress_ = std::move(f); }
    // Sends raw bytes and reads one line back: for protocol tests.
    Result<std::string> exchange_raw(const std::string& bytes);
    // The two halves of exchange_raw, for tests that pipeline requests:
    // send_raw writes every byte, read_line returns the next response line.
    Result<size_t> send_raw(const std::string& bytes);
    Result<std::string> read_line();

private:
    Result<std::string> read_line_until(std::chrono::steady_clock::time_point deadline);
    ControlClient(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
    int write_all(const std::string& bytes);  // 0 or the errno that stopped it

    int fd_;
    std::chrono::milliseconds timeout_;
    std::string buffer_;
    uint64_t next_id_ = 1;
    std::function<void(const json&)> progress_;
};

}  // namespace sluice::control
