#include "control/server/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice::control {
namespace {

constexpr int kTimeoutMs = 2000;
constexpr size_t kMaxRequestHead = 8192;

bool send_all(int fd, const std::string& s) {
    size_t at = 0;
    while (at < s.size()) {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, kTimeoutMs) <= 0) return false;
        const ssize_t w = send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
        if (w <= 0) return false;
        at += static_cast<size_t>(w);
    }
    return true;
}

std::string response(const char* status, const char* type, const std::string& body) {
    return fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                       type, body.size(), body);
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::bind(const std::string& address, Render render) {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return Error{fmt::format("--metrics wants HOST:PORT, e.g. 127.0.0.1:9464, not '{}'", address)};
    std::string host = address.substr(0, colon);
    const std::string port_text = address.substr(colon + 1);
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {  // 0: any free port
        return Error{fmt::format("--metrics port must be 0-65535 (0 picks a free one), not '{}'", port_text)};
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

    sockaddr_storage ss{};
    socklen_t len;
    int family;
    if (auto* a4 = reinterpret_cast<sockaddr_in*>(&ss); inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(static_cast<uint16_t>(port));
        len = sizeof(*a4);
        family = AF_INET;
    } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss); inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(static_cast<uint16_t>(port));
        len = sizeof(*a6);
        family = AF_INET6;
    } else {
        return Error{fmt::format("--metrics host must be a numeric address such as 127.0.0.1 or [::1], not '{}'", host)};
    }
    const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 16) != 0) {
        const int e = errno;
        close(fd);
        return Error{fmt::format("cannot listen on {} for metrics: {}", address, std::strerror(e))};
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof(bound);
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
    const uint16_t actual = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                              : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return std::unique_ptr<MetricsServer>(new MetricsServer(fd, actual, std::move(render)));
}

MetricsServer::~MetricsServer() {
    stop();
    close(fd_);
}

void MetricsServer::start() {
    thread_ = std::thread([this] { run(); });
}

void MetricsServer::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread_.join();
}

void MetricsServer::run() {
    while (!stopping_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        serve(client);
        close(client);
    }
}

void MetricsServer::serve(int client) {
    std::string head;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    while (head.find("\r\n\r\n") == std::string::npos) {
        if (head.size() > kMaxRequestHead || std::chrono::steady_clock::now() > deadline) return;
        pollfd p{client, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        char buf[2048];
        const ssize_t n = read(client, buf, sizeof(buf));
        if (n <= 0) return;
        head.append(buf, static_cast<size_t>(n));
    }
    const auto line_end = head.find("\r\n");
    const std::string line = head.substr(0, line_end);
    if (line.rfind("GET ", 0) != 0) {
        send_all(client, response("405 Method Not Allowed", "text/plain", "only GET is served\n"));
        return;
    }
    const auto path_end = line.find(' ', 4);
    const std::string path = line.substr(4, path_end == std::string::npos ? std::string::npos : path_end - 4);
    if (path != "/metrics" && path.rfind("/metrics?", 0) != 0) {
        send_all(client, response("404 Not Found", "text/plain", "metrics are at /metrics\n"));
        return;
    }
    send_all(client, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render_()));
}

}  // namespace sluice::control
