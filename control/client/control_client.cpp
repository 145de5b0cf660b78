#include "control/client/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice::control {

Result<std::unique_ptr<ControlClient>> ControlClient::connect(const std::string& path,
                                                              std::chrono::milliseconds timeout) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path)) return Error{fmt::format("socket path {} is too long", path)};
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
        const int e = errno;
        close(fd);
        const char* hint = e == ENOENT         ? " (is sluiced running? see --socket)"
                           : e == EACCES       ? " (are you root or in group sluice?)"
                           : e == ECONNREFUSED ? " (a stale socket: sluiced is not running)"
                                               : "";
        return Error{fmt::format("cannot connect to {}: {}{}", path, std::strerror(e), hint)};
    }
    return std::unique_ptr<ControlClient>(new ControlClient(fd, timeout));
}

ControlClient::~ControlClient() { close(fd_); }

Result<std::string> ControlClient::read_line() {
    return read_line_until(std::chrono::steady_clock::now() + timeout_);
}

Result<std::string> ControlClient::read_line_until(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return Error{"no answer from sluiced in time"};
        pollfd p{fd_, POLLIN, 0};
        const int r = poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[65536];
        const ssize_t n = read(fd_, buf, sizeof(buf));
        if (n == 0) return Error{"sluiced closed the connection"};
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return Error{fmt::format("read: {}", std::strerror(errno))};
        }
        buffer_.append(buf, static_cast<size_t>(n));
    }
}

int ControlClient::write_all(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t w = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        sent += static_cast<size_t>(w);
    }
    return 0;
}

Result<size_t> ControlClient::send_raw(const std::string& bytes) {
    if (const int e = write_all(bytes); e != 0) return Error{fmt::format("write: {}", std::strerror(e))};
    return bytes.size();
}

Result<std::string> ControlClient::exchange_raw(const std::string& bytes) {
    if (const int e = write_all(bytes); e != 0) {
        // sluiced may have said why it closed (too many connections)
        // before our request reached it: that line is the answer.
        if (e == EPIPE || e == ECONNRESET) {
            if (auto line = read_line(); line) return line;
        }
        return Error{fmt::format("write: {}", std::strerror(e))};
    }
    return read_line();
}

Result<json> ControlClient::call(const std::string& cmd, const json& args) {
    const uint64_t id = next_id_++;
    const json req{{"id", id}, {"cmd", cmd}, {"args", args}, {"progress", true}};
    const std::string bytes = req.dump() + "\n";
    if (const int e = write_all(bytes); e != 0 && e != EPIPE && e != ECONNRESET) {
        return Error{fmt::format("write: {}", std::strerror(e))};
    }
    // (After EPIPE or ECONNRESET sluiced may have said why it closed, e.g.
    // too many connections, before the request reached it: read that.)
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
        auto line = read_line_until(deadline);
        if (!line) return Error{line.error()};
        json resp = json::parse(*line, nullptr, false);
        if (is_working_line(resp) && resp.value("id", json()) == json(id)) {
            // sluiced is on it: wait as long as it promises, at least our own timeout.
            const auto promised = std::chrono::milliseconds(resp.value("deadline_ms", int64_t{0}));
            deadline = std::max(deadline, std::chrono::steady_clock::now() + promised);
            if (progress_) progress_(resp);
            continue;
        }
        if (resp.is_discarded() || !resp.is_object() || !resp.contains("ok")) {
            return Error{"sluiced answered something that is not a response"};
        }
        if (resp.value("id", json()) != json(id)) {
            // An answer to no request: sluiced refused the connection itself.
            if (resp.value("id", json()).is_null() && resp.value("ok", true) == false && resp.contains("error") &&
                resp["error"].is_string()) {
                return Error{"sluiced refused the connection: " + resp["error"].get<std::string>()};
            }
            return Error{"sluiced answered a different request"};
        }
        return resp;
    }
}

}  // namespace sluice::control
