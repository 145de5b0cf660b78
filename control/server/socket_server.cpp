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

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "control/server/audit_log.hpp"

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

// The peer's supplementary groups as the kernel recorded them at connect.
std::vector<gid_t> peer_groups(int fd) {
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 3; ++attempt) {
        socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
            groups.resize(len / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE) break;
        groups.resize(len / sizeof(gid_t) + 1);
    }
    return {};
}

// Makes the socket in a directory only this process can enter, gives it its
// mode and group there, then renames it into place: nothing another user
// does to `path`'s directory can turn the chmod or chown onto another file.
Result<int> bind_in_private_dir(const std::string& path, bool have_group, gid_t group) {
    const std::filesystem::path target(path);
    const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
    std::string scratch = dir + "/.sluiced-bind.XXXXXX";
    if (mkdtemp(scratch.data()) == nullptr) {
        return Error{fmt::format("cannot make a private directory in {}: {}", dir, std::strerror(errno))};
    }
    const std::string inner = scratch + "/s";
    auto cleanup = [&] {
        unlink(inner.c_str());
        rmdir(scratch.c_str());
    };
    auto addr = address_of(inner);
    if (!addr) {
        cleanup();
        return Error{fmt::format("{} (the socket is first made in {})", addr.error(), scratch)};
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        cleanup();
        return Error{fmt::format("socket: {}", std::strerror(errno))};
    }
    auto fail = [&](std::string message) -> Result<int> {
        close(fd);
        cleanup();
        return Error{std::move(message)};
    };
    const mode_t old_mask = umask(0177);
    const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
    umask(old_mask);
    if (rc != 0) return fail(fmt::format("cannot bind {}: {}", inner, std::strerror(errno)));
    const int dfd = open(scratch.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return fail(fmt::format("cannot open {}: {}", scratch, std::strerror(errno)));
    bool ok = fchmodat(dfd, "s", have_group ? 0660 : 0600, 0) == 0;
    if (ok && have_group) ok = fchownat(dfd, "s", 0, group, AT_SYMLINK_NOFOLLOW) == 0;
    const int e = errno;
    close(dfd);
    if (!ok) return fail(fmt::format("cannot set the mode and group of {}: {}", path, std::strerror(e)));
    if (rename(inner.c_str(), path.c_str()) != 0) {
        return fail(fmt::format("cannot move the socket to {}: {}", path, std::strerror(errno)));
    }
    rmdir(scratch.c_str());
    return fd;
}

}  // namespace

Result<std::unique_ptr<SocketServer>> SocketServer::bind(const std::string& path, const CommandTable& table,
                                                         ServerLimits limits, const std::string& group) {
    auto addr = address_of(path);
    if (!addr) return Error{addr.error()};
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return Error{fmt::format("cannot create {}: {}", dir.string(), ec.message())};
    struct stat dst{};
    if (stat(dir.empty() ? "." : dir.c_str(), &dst) == 0 && (dst.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
        (dst.st_mode & S_ISVTX) == 0) {
        spdlog::warn("control: {} is writable by others: anyone who may write there can remove the socket",
                     dir.string());
    }

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
    if (const struct group* g = getgrnam(group.c_str()); g != nullptr) {
        s->group_ = g->gr_gid;
        s->have_group_ = true;
    } else {
        spdlog::warn("control: group '{}' does not exist: only root can use {} (groupadd --system {})", group, path,
                     group);
    }
    auto fd = bind_in_private_dir(path, s->have_group_, s->group_);
    if (!fd) return Error{fd.error()};
    s->listen_fd_ = *fd;
    if (listen(s->listen_fd_, 64) != 0) return Error{fmt::format("listen on {}: {}", path, std::strerror(errno))};

    s->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->done_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epoll_fd_ < 0 || s->wake_fd_ < 0 || s->done_fd_ < 0) {
        return Error{fmt::format("epoll/eventfd: {}", std::strerror(errno))};
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = s->listen_fd_;
    epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->listen_fd_, &ev);
    ev.data.fd = s->wake_fd_;
    epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->wake_fd_, &ev);
    ev.data.fd = s->done_fd_;
    epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->done_fd_, &ev);
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
    if (done_fd_ >= 0) close(done_fd_);
}

void SocketServer::start() {
    jobs_thread_ = std::thread([this] { run_jobs(); });
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
    // A command already running is finished (a policy half published is
    // worse than a shutdown that waits for it); queued ones are dropped.
    {
        std::lock_guard lock(jobs_mutex_);
        jobs_stopping_ = true;
        jobs_.clear();
    }
    jobs_cv_.notify_all();
    if (jobs_thread_.joinable()) jobs_thread_.join();
}

void SocketServer::run_jobs() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(jobs_mutex_);
            jobs_cv_.wait(lock, [this] { return jobs_stopping_ || !jobs_.empty(); });
            if (jobs_stopping_) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
            running_serial_ = job.serial;
        }
        std::string response = table_.dispatch(job.request, job.peer);
        {
            std::lock_guard lock(jobs_mutex_);
            running_serial_ = 0;
            done_.push_back({job.fd, job.serial, std::move(response)});
        }
        const uint64_t one = 1;
        if (write(done_fd_, &one, sizeof(one)) < 0) {
            // The control thread also collects answers at its next timeout.
        }
    }
}

void SocketServer::collect_done() {
    uint64_t count = 0;
    if (read(done_fd_, &count, sizeof(count)) < 0) {
        // Nothing signalled: collect anyway, the queue is the truth.
    }
    std::deque<Done> done;
    {
        std::lock_guard lock(jobs_mutex_);
        done.swap(done_);
    }
    for (auto& d : done) {
        auto it = conns_.find(d.fd);
        // The client went away while its command ran: the command still
        // took effect, nobody is left to tell.
        if (it == conns_.end() || it->second.serial != d.serial) continue;
        Connection& c = it->second;
        c.busy = false;
        c.out += d.response;
        c.last_request_ms = now_ms();
        answer_lines(d.fd, c);
        if (c.eof && !c.busy && !c.held) finish_input(c);
        flush(d.fd, c);
    }
}

void SocketServer::send_progress(int64_t now) {
    uint64_t running = 0;
    {
        std::lock_guard lock(jobs_mutex_);
        running = running_serial_;
    }
    std::vector<int> due;
    for (auto& [fd, c] : conns_) {
        if (!c.busy || !c.progress || c.closing || now < c.next_progress_ms) continue;
        c.out += working_line(c.busy_id, c.busy_cmd, c.serial == running ? "running" : "queued", now - c.busy_since_ms);
        c.next_progress_ms = now + kProgressIntervalMs;
        due.push_back(fd);
    }
    for (const int fd : due) {
        if (auto it = conns_.find(fd); it != conns_.end()) flush(fd, it->second);
    }
}

void SocketServer::run() {
    epoll_event events[64];
    while (!stopping_) {
        // Interim lines are due every kProgressIntervalMs while a client waits.
        bool waiting = false;
        for (const auto& [fd, c] : conns_) waiting = waiting || (c.busy && c.progress);
        const int n = epoll_wait(epoll_fd_, events, 64, waiting ? 100 : 1000);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_fd_) continue;
            if (fd == done_fd_) {
                collect_done();
                continue;
            }
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
        // A connection that completes no request in time is closed, however
        // many bytes it drips: otherwise slow clients could hold every slot.
        const int64_t now = now_ms();
        send_progress(now);
        std::vector<int> idle, stalled;
        for (const auto& [fd, c] : conns_) {
            // A connection waiting for its command's answer is not idle.
            if (!c.closing && !c.busy && !c.held && now - c.last_request_ms > limits_.idle_timeout_ms)
                idle.push_back(fd);
            if (!c.out.empty() && c.out_waiting_ms && now - c.out_waiting_ms > limits_.output_stall_ms)
                stalled.push_back(fd);
        }
        for (const int fd : stalled) {
            spdlog::warn("control: client pid {} took none of its answers for {} s; disconnecting",
                         conns_.at(fd).peer.pid, limits_.output_stall_ms / 1000.0);
            close_connection(fd);
        }
        for (const int fd : idle) {
            const auto it = conns_.find(fd);
            if (it == conns_.end()) continue;  // closed as stalled
            Connection& c = it->second;
            c.out += error_response(nullptr, fmt::format("no complete request for {} s; closing",
                                                         limits_.idle_timeout_ms / 1000));
            c.closing = true;
            buffered_ -= c.in.size();
            c.in.clear();
            flush(fd, c);
        }
    }
}

std::string SocketServer::refusal(const Peer& peer) const {
    const unsigned total = static_cast<unsigned>(conns_.size());
    if (total >= limits_.max_connections) {
        return fmt::format("too many control connections ({} open); try again later", total);
    }
    if (peer.role == Role::root) return {};
    if (non_root_ + limits_.root_reserved >= limits_.max_connections) {
        return fmt::format("too many control connections ({} open, the last {} kept for root); try again later",
                           total, limits_.root_reserved);
    }
    if (auto it = per_uid_.find(peer.uid); it != per_uid_.end() && it->second >= limits_.max_per_uid) {
        return fmt::format("too many control connections from uid {} ({} open, at most {}); close some first",
                           peer.uid, it->second, limits_.max_per_uid);
    }
    return {};
}

void SocketServer::accept_all() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        Peer peer;
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
            close(fd);
            continue;
        }
        peer = {cred.pid, cred.uid, cred.gid, Role::none};
        if (cred.uid == 0 || cred.uid == geteuid()) {
            peer.role = Role::root;
        } else if (have_group_) {
            const auto groups = peer_groups(fd);
            if (cred.gid == group_ || std::find(groups.begin(), groups.end(), group_) != groups.end()) {
                peer.role = Role::member;
            }
        }
        std::string why = refusal(peer);
        if (!why.empty()) {
            audit_log().warn("control: connection from pid {} uid {} refused: {}", peer.pid, peer.uid, why);
        } else if (peer.role == Role::none) {
            // Reached only if the socket's mode lets others in; answer, then close.
            why = fmt::format("permission denied: uid {} is neither root nor in the socket's group", peer.uid);
            audit_log().warn("control: connection from pid {} uid {} refused: not root, not in the group", peer.pid,
                             peer.uid);
        }
        if (!why.empty()) {
            const std::string msg = error_response(nullptr, why);
            if (send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                // The client is gone; nothing to tell it.
            }
            close(fd);
            continue;
        }
        Connection c;
        c.peer = peer;
        c.last_request_ms = now_ms();
        c.serial = next_serial_++;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        if (peer.role != Role::root) {
            ++per_uid_[peer.uid];
            ++non_root_;
        }
        conns_.emplace(fd, std::move(c));
    }
}

void SocketServer::answer_lines(int fd, Connection& c) {
    size_t start = 0;
    c.held = false;
    while (!c.closing && !c.busy) {
        // A client that does not take its answers gets no more for now: the
        // rest of its requests wait until what it was sent drains (flush).
        if (c.out.size() - c.out_sent > limits_.max_output_bytes) {
            c.held = c.in.find('\n', start) != std::string::npos;
            break;
        }
        const size_t nl = c.in.find('\n', std::max(start, c.scanned));
        if (nl == std::string::npos) break;
        std::string_view line(c.in.data() + start, nl - start);
        start = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > limits_.max_request_bytes) {
            c.out += error_response(nullptr, fmt::format("request longer than {} bytes", limits_.max_request_bytes));
            c.closing = true;
            break;
        }
        json id;
        auto req = parse_request(line, id);
        c.last_request_ms = now_ms();
        if (req && table_.runs_in_background(req->cmd)) {
            // Answered when the job thread is done; later lines wait.
            c.busy = true;
            c.progress = req->progress;
            c.busy_id = req->id;
            c.busy_cmd = req->cmd;
            c.busy_since_ms = c.last_request_ms;
            c.next_progress_ms = c.last_request_ms + kProgressIntervalMs;
            bool queued = false;
            {
                std::lock_guard lock(jobs_mutex_);
                queued = running_serial_ != 0 || !jobs_.empty();
                jobs_.push_back({fd, c.serial, std::move(*req), c.peer});
            }
            jobs_cv_.notify_one();
            // The first interim line at once: the client learns that it may wait.
            if (c.progress) c.out += working_line(c.busy_id, c.busy_cmd, queued ? "queued" : "running", 0);
            break;
        }
        c.out += req ? table_.dispatch(*req, c.peer) : error_response(id, req.error());
    }
    const size_t before = c.in.size();
    if (c.closing) {
        c.in.clear();
    } else {
        c.in.erase(0, start);
    }
    // Lines left behind a busy request or held answers are still to be read.
    c.scanned = c.busy || c.held ? 0 : c.in.size();
    buffered_ -= before - c.in.size();
}

void SocketServer::finish_input(Connection& c) {
    if (!c.in.empty() && !c.closing) c.out += error_response(nullptr, "request ended without a newline");
    buffered_ -= c.in.size();
    c.in.clear();
    c.closing = true;
}

void SocketServer::on_readable(int fd, Connection& c) {
    char buf[65536];
    for (;;) {
        const ssize_t r = read(fd, buf, sizeof(buf));
        if (r > 0) {
            if (c.closing) continue;  // discard: the answer is already queued
            if (buffered_ + static_cast<size_t>(r) > limits_.max_buffered_bytes) {
                c.out += error_response(nullptr, "the daemon holds too much unanswered input from all clients; "
                                                 "closing, try again");
                c.closing = true;
                buffered_ -= c.in.size();
                c.in.clear();
                continue;
            }
            c.in.append(buf, static_cast<size_t>(r));
            buffered_ += static_cast<size_t>(r);
            answer_lines(fd, c);
            // Held requests: the rest of the input stays in the kernel.
            if (c.held) break;
            if (!c.closing && c.in.size() > limits_.max_request_bytes &&
                (!c.busy || c.in.find('\n') == std::string::npos)) {
                // Without a newline in sight there is no way to find the next request.
                c.out += error_response(nullptr, fmt::format("request longer than {} bytes without a newline; closing",
                                                             limits_.max_request_bytes));
                c.closing = true;
                buffered_ -= c.in.size();
                c.in.clear();
            }
            continue;
        }
        if (r == 0) {
            // The client closed its side: answer a last request cut short,
            // then close; a command still running is answered first.
            c.eof = true;
            if (!c.busy && !c.held) finish_input(c);
            break;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.closing = true;
        break;
    }
    flush(fd, c);
}

void SocketServer::flush(int fd, Connection& c) {
    bool moved = false;
    for (;;) {
        while (c.out_sent < c.out.size()) {
            const ssize_t w = send(fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
            if (w > 0) {
                c.out_sent += static_cast<size_t>(w);
                moved = true;
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            close_connection(fd);
            return;
        }
        // Sent bytes leave the buffer all at once when it empties, or in
        // large pieces: erasing every send's worth would copy a large
        // answer over and over.
        if (c.out_sent == c.out.size()) {
            c.out.clear();
            c.out_sent = 0;
        } else if (c.out_sent >= (1u << 20) && 2 * c.out_sent >= c.out.size()) {
            c.out.erase(0, c.out_sent);
            c.out_sent = 0;
        }
        // Requests held back (answer_lines) are answered once the answers
        // waiting fit the limit again.
        if (!c.held || c.out.size() - c.out_sent > limits_.max_output_bytes) break;
        answer_lines(fd, c);
        if (c.eof && !c.busy && !c.held) finish_input(c);
    }
    if (c.out.empty()) {
        c.out_waiting_ms = 0;
    } else if (moved || c.out_waiting_ms == 0) {
        c.out_waiting_ms = now_ms();
    }
    if (c.out.empty() && c.closing && !c.busy) {
        close_connection(fd);
        return;
    }
    // After the client's end of input only output is of interest (EPOLLIN
    // would report the end again and again).
    // Input waits in the kernel while requests are held: that is the
    // client's back pressure, and it holds no memory here.
    watch_output(fd, !c.out.empty(), !c.eof && !c.held);
}

void SocketServer::watch_output(int fd, bool want, bool input) {
    epoll_event ev{};
    ev.events = (input ? EPOLLIN : 0u) | (want ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void SocketServer::close_connection(int fd) {
    auto it = conns_.find(fd);
    if (it != conns_.end()) {
        buffered_ -= it->second.in.size();
        if (it->second.peer.role != Role::root) {
            --non_root_;
            if (auto u = per_uid_.find(it->second.peer.uid); u != per_uid_.end() && --u->second == 0) per_uid_.erase(u);
        }
        conns_.erase(it);
    }
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
}

}  // namespace sluice::control
