// The control socket: a Unix stream socket served by one thread (the control
// thread, never a packet lcore) with epoll, non-blocking throughout.
//
// Bounded in every direction: a request line may be at most 1 MiB, a client
// at most `max_connections` at once, idle at most `idle_timeout_ms`, and a
// client that does not read its responses is dropped once `max_output_bytes`
// wait for it. One client can therefore never stall another, and nothing a
// client sends reaches the packet path except through command handlers.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "control/server/command_table.hpp"
#include "dataplane/result.hpp"

namespace sluice::control {

struct ServerLimits {
    size_t max_request_bytes = kMaxRequestBytes;
    unsigned max_connections = 64;
    int idle_timeout_ms = 60'000;
    size_t max_output_bytes = 8u << 20;
};

class SocketServer {
public:
    // Creates and binds the socket: replaces a stale one left by a crashed
    // daemon, refuses to steal one that a live daemon still serves. The
    // socket gets mode 0660 and group `sluice` when that group exists.
    static Result<std::unique_ptr<SocketServer>> bind(const std::string& path, const CommandTable& table,
                                                      ServerLimits limits = {});
    ~SocketServer();
    SocketServer(const SocketServer&) = delete;
    SocketServer& operator=(const SocketServer&) = delete;

    void start();  // serves on a new thread
    void stop();   // returns once the thread has finished

    const std::string& path() const { return path_; }

private:
    struct Connection {
        std::string in;
        std::string out;
        Peer peer;
        int64_t last_active_ms = 0;
        bool closing = false;  // flush what is queued, then close
    };

    SocketServer(std::string path, const CommandTable& table, ServerLimits limits)
        : path_(std::move(path)), table_(table), limits_(limits) {}
    void run();
    void accept_all();
    void on_readable(int fd, Connection& c);
    void flush(int fd, Connection& c);
    void close_connection(int fd);
    void watch_output(int fd, bool want);

    std::string path_;
    const CommandTable& table_;
    ServerLimits limits_;
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::map<int, Connection> conns_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
};

}  // namespace sluice::control
