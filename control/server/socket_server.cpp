#include "control/server/socket_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace sluice::control {
namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Result<sockaddr_un> address_of(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path)) {
        return Error{fmt::format("socket path {} is longer than {} bytes", path, sizeof(a.sun_path) - 1)};
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

// Whether a daemon answers on `path` right now.
bool someone_listens(const sockaddr_un& a) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    return live;
}

}  // namespace

Result<std::unique_ptr<SocketServer>> SocketServer::bind(const std::string& path, const CommandTable& table,
                                                         ServerLimits limits) {
    auto addr = address_of(path);
    if (!addr) return Error{addr.error()};
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return Error{fmt::format("cannot create {}: {}", dir.string(), ec.message())};

    struct stat st{};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return Error{fmt::format("{} exists and is not a socket; remove it or choose --socket", path)};
        if (someone_listens(*addr)) {
            return Error{fmt::format("another daemon is serving {}; stop it first or choose another --socket", path)};
        }
        // Left behind by a daemon that did not exit cleanly.
        spdlog::info("control: replacing stale socket {}", path);
        unlink(path.c_str());
    }

    std::unique_ptr<SocketServer> s(new SocketServer(path, table, limits));
    s->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd_ < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
    // Nobody else may connect in the moment between bind and chmod.
    const mode_t old_mask = umask(0117);
    const int rc = ::bind(s->listen_fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
    umask(old_mask);
    if (rc != 0) return Error{fmt::format("cannot bind {}: {}", path, std::strerror(errno))};
    chmod(path.c_str(), 0660);
    if (const group* g = getgrnam("sluice"); g != nullptr) {
        if (chown(path.c_str(), 0, g->gr_gid) != 0) {
            spdlog::warn("control: cannot give {} to group sluice: {}", path, std::strerror(errno));
        }
    }
    if (listen(s->listen_fd_, 64) != 0) return Error{fmt::format("listen on {}: {}", path, std::strerror(errno))};

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

SocketServer::~SocketServer() {
    stop();
    for (auto& [fd, c] : conns_) close(fd);
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        unlink(path_.c_str());
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
}

void SocketServer::start() {
    thread_ = std::thread([this] { run(); });
}

void SocketServer::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof(one)) < 0) {
        // The thread also checks the flag at its next timeout.
    }
    thread_.join();
}

void SocketServer::run() {
    epoll_event events[64];
    while (!stopping_) {
        const int n = epoll_wait(epoll_fd_, events, 64, 1000);
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
                continue;
            }
            if (events[i].events & EPOLLIN) on_readable(fd, it->second);
            it = conns_.find(fd);
            if (it != conns_.end() && (events[i].events & EPOLLOUT)) flush(fd, it->second);
        }
        // Idle clients are closed so they cannot hold a connection slot forever.
        const int64_t now = now_ms();
        for (auto it = conns_.begin(); it != conns_.end();) {
            const int fd = it->first;
            ++it;
            auto& c = conns_.at(fd);
            if (now - c.last_active_ms > limits_.idle_timeout_ms) {
                c.out += error_response(nullptr, "connection idle too long; closing");
                c.closing = true;
                flush(fd, c);
            }
        }
    }
}

void SocketServer::accept_all() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (conns_.size() >= limits_.max_connections) {
            const std::string msg = error_response(nullptr, fmt::format("too many control connections ({}); try again later",
                                                                        limits_.max_connections));
            if (write(fd, msg.data(), msg.size()) < 0) {
                // The client is gone; nothing to tell it.
            }
            close(fd);
            continue;
        }
        Connection c;
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) c.peer = {cred.pid, cred.uid, cred.gid};
        c.last_active_ms = now_ms();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        conns_.emplace(fd, std::move(c));
    }
}

void SocketServer::on_readable(int fd, Connection& c) {
    char buf[65536];
    for (;;) {
        const ssize_t r = read(fd, buf, sizeof(buf));
        if (r > 0) {
            c.last_active_ms = now_ms();
            if (!c.closing) c.in.append(buf, static_cast<size_t>(r));
            // Answer every whole line received so far.
            size_t start = 0;
            for (size_t nl; !c.closing && (nl = c.in.find('\n', start)) != std::string::npos; start = nl + 1) {
                std::string_view line(c.in.data() + start, nl - start);
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                if (line.size() > limits_.max_request_bytes) {
                    c.out += error_response(nullptr, fmt::format("request longer than {} bytes", limits_.max_request_bytes));
                    c.closing = true;
                    break;
                }
                json id;
                auto req = parse_request(line, id);
                c.out += req ? table_.dispatch(*req, c.peer) : error_response(id, req.error());
            }
            if (c.closing) {
                c.in.clear();
            } else {
                c.in.erase(0, start);
                if (c.in.size() > limits_.max_request_bytes) {
                    // Without a newline in sight there is no way to find the next request.
                    c.out += error_response(nullptr, fmt::format("request longer than {} bytes without a newline; closing",
                                                                 limits_.max_request_bytes));
                    c.closing = true;
                    c.in.clear();
                }
            }
            continue;
        }
        if (r == 0) {
            // The client closed its side: answer a last request cut short, then close.
            if (!c.in.empty() && !c.closing) {
                c.out += error_response(nullptr, "request ended without a newline");
            }
            c.closing = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.closing = true;
        break;
    }
    flush(fd, c);
}

void SocketServer::flush(int fd, Connection& c) {
    while (!c.out.empty()) {
        const ssize_t w = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (w > 0) {
            c.out.erase(0, static_cast<size_t>(w));
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        close_connection(fd);
        return;
    }
    if (c.out.size() > limits_.max_output_bytes) {
        spdlog::warn("control: client pid {} does not read its responses; disconnecting", c.peer.pid);
        close_connection(fd);
        return;
    }
    if (c.out.empty() && c.closing) {
        close_connection(fd);
        return;
    }
    watch_output(fd, !c.out.empty());
}

void SocketServer::watch_output(int fd, bool want) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void SocketServer::close_connection(int fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(fd);
}

}  // namespace sluice::control
