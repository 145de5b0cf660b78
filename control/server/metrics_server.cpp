#include "control/server/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

namespace sluice::control {
namespace {

constexpr const char* kDefaultHost = "127.0.0.1";

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string response(const char* status, const char* type, const std::string& body) {
    return fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                       type, body.size(), body);
}

struct Endpoint {
    sockaddr_storage address{};
    socklen_t length = 0;
};

// PORT (on 127.0.0.1) or HOST:PORT, numeric hosts only: no resolver runs in the daemon.
Result<Endpoint> parse_endpoint(const std::string& text) {
    const bool bare_port = !text.empty() && text.find(':') == std::string::npos &&
                           std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    const auto colon = text.rfind(':');
    if (!bare_port && colon == std::string::npos) {
        return Error{fmt::format("--metrics wants PORT or HOST:PORT, e.g. 9464 or 127.0.0.1:9464, not '{}'", text)};
    }
    std::string host = bare_port ? kDefaultHost : text.substr(0, colon);
    const std::string port_text = bare_port ? text : text.substr(colon + 1);
    const bool digits = !port_text.empty() && port_text.size() <= 5 &&
                        std::all_of(port_text.begin(), port_text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!digits || std::stol(port_text) > 65535) {  // 0: any free port
        return Error{fmt::format("--metrics port must be 0-65535 (0 picks a free one), not '{}'", port_text)};
    }
    const auto port = htons(static_cast<uint16_t>(std::stol(port_text)));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

    Endpoint e;
    if (auto* a4 = reinterpret_cast<sockaddr_in*>(&e.address); inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = port;
        e.length = sizeof(*a4);
    } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&e.address);
               inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = port;
        e.length = sizeof(*a6);
    } else {
        return Error{fmt::format("--metrics host must be a numeric address such as 127.0.0.1 or [::1], not '{}'", host)};
    }
    return e;
}

// The host and port a socket is bound to, the host written as in a URL.
std::pair<std::string, uint16_t> bound_to(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    char text[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6) {
        const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
        return {fmt::format("[{}]", text), ntohs(a6->sin6_port)};
    }
    const auto* a4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a4->sin_addr, text, sizeof(text));
    return {text, ntohs(a4->sin_port)};
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::bind(const std::string& address, Render render,
                                                           MetricsLimits limits) {
    auto e = parse_endpoint(address);
    if (!e) return Error{e.error()};
    std::unique_ptr<MetricsServer> s(new MetricsServer(std::move(render), limits));
    s->listen_fd_ = socket(e->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd_ < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
    const int one = 1;
    setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(s->listen_fd_, reinterpret_cast<const sockaddr*>(&e->address), e->length) != 0 ||
        listen(s->listen_fd_, 64) != 0) {
        return Error{fmt::format("cannot listen on {} for metrics: {}", address, std::strerror(errno))};
    }
    std::tie(s->host_, s->port_) = bound_to(s->listen_fd_);

    s->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epoll_fd_ < 0 || s->wake_fd_ < 0) return Error{fmt::format("epoll/eventfd: {}", std::strerror(errno))};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = s->listen_fd_;
    epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->listen_fd_, &ev);
    ev.data.fd = s->wake_fd_;
    epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->wake_fd_, &ev);
    return s;
}

MetricsServer::~MetricsServer() {
    stop();
    for (auto& [fd, c] : conns_) close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
}

void MetricsServer::start() {
    thread_ = std::thread([this] { run(); });
}

void MetricsServer::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof(one)) < 0) {
        // The thread also checks the flag at its next timeout.
    }
    thread_.join();
}

void MetricsServer::run() {
    epoll_event events[64];
    while (!stopping_) {
        const int n = epoll_wait(epoll_fd_, events, 64, next_timeout_ms());
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_fd_) continue;
            if (fd == listen_fd_) {
                accept_all();
                continue;
            }
            auto it = conns_.find(fd);
            if (it == conns_.end()) continue;
            if (events[i].events & (EPOLLHUP | EPOLLERR)) {
                close_connection(fd);
            } else if (events[i].events & EPOLLIN) {
                on_readable(fd, it->second);
            } else if (events[i].events & EPOLLOUT) {
                flush(fd, it->second);
            }
        }
        // Whoever has not been answered and gone by its deadline is closed:
        // a slow client costs a slot for that long and no more.
        const int64_t now = now_ms();
        std::erase_if(conns_, [&](const auto& entry) {
            if (now < entry.second.deadline_ms) return false;
            epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, entry.first, nullptr);
            close(entry.first);
            return true;
        });
    }
    for (auto& [fd, c] : conns_) close(fd);
    conns_.clear();
}

int MetricsServer::next_timeout_ms() const {
    int64_t wait = 1000;
    const int64_t now = now_ms();
    for (const auto& [fd, c] : conns_) wait = std::min(wait, c.deadline_ms - now);
    return static_cast<int>(std::max<int64_t>(wait, 0));
}

void MetricsServer::accept_all() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (!make_room()) {
            close(fd);  // every slot is busy answering; the scraper retries at its next interval
            continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        conns_[fd] = Connection{now_ms() + limits_.deadline_ms, {}, {}, false};
    }
}

// Frees a slot when all are taken by closing the oldest client that is still
// sending its request; false when every one is already being answered.
bool MetricsServer::make_room() {
    if (conns_.size() < limits_.max_connections) return true;
    auto oldest = conns_.end();
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        if (!it->second.answering && (oldest == conns_.end() || it->second.deadline_ms < oldest->second.deadline_ms)) {
            oldest = it;
        }
    }
    if (oldest == conns_.end()) return false;
    close_connection(oldest->first);
    return true;
}

void MetricsServer::on_readable(int fd, Connection& c) {
    char buf[4096];
    for (;;) {
        const ssize_t r = read(fd, buf, sizeof(buf));
        if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            auto end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) end = c.in.find("\n\n");
            if (end != std::string::npos && end < limits_.max_request_head) {
                answer(fd, c);
                return;
            }
            if (c.in.size() > limits_.max_request_head) {
                c.out = response("431 Request Header Fields Too Large", "text/plain",
                                 fmt::format("the request head is longer than {} bytes\n", limits_.max_request_head));
                c.in.clear();
                c.answering = true;
                flush(fd, c);
                return;
            }
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_connection(fd);  // closed or failed before its request was whole
        return;
    }
}

void MetricsServer::answer(int fd, Connection& c) {
    const std::string line = c.in.substr(0, c.in.find_first_of("\r\n"));
    c.in.clear();
    c.answering = true;
    if (line.rfind("GET ", 0) != 0) {
        c.out = response("405 Method Not Allowed", "text/plain", "only GET is served\n");
    } else {
        const auto path_end = line.find(' ', 4);
        const std::string path = line.substr(4, path_end == std::string::npos ? std::string::npos : path_end - 4);
        if (path != "/metrics" && path.rfind("/metrics?", 0) != 0) {
            c.out = response("404 Not Found", "text/plain", "metrics are at /metrics\n");
        } else {
            try {
                c.out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render_());
            } catch (const std::exception& e) {
                c.out = response("500 Internal Server Error", "text/plain", fmt::format("{}\n", e.what()));
            }
        }
    }
    flush(fd, c);
}

void MetricsServer::flush(int fd, Connection& c) {
    while (!c.out.empty()) {
        const ssize_t w = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (w > 0) {
            c.out.erase(0, static_cast<size_t>(w));
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            epoll_event ev{};
            ev.events = EPOLLOUT;  // the request is read: only the response's progress matters now
            ev.data.fd = fd;
            epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
            return;
        }
        break;
    }
    close_connection(fd);  // answered in full, or the client is gone
}

void MetricsServer::close_connection(int fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(fd);
}

}  // namespace sluice::control
