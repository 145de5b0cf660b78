// A minimal HTTP endpoint for Prometheus: GET /metrics answers the text
// exposition format produced by a callback; anything else gets 404 or 405.
//
// One thread serves every client with epoll, non-blocking throughout, so a
// slow or idle client never delays a scrape. Each connection is bounded: its
// request head may be at most `max_request_head` bytes (431 beyond that), it
// must be answered and gone within `deadline_ms` of its accept, and at most
// `max_connections` are open at once; a new client beyond that closes the
// oldest one still sending its request (one already being answered is kept,
// and if all are, the new one is refused). Memory is therefore bounded by
// max_connections × (head + one rendered response).
//
// It never touches the packet path; the callback runs on the server's thread
// and reads the same lock-free counters the control socket reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/result.hpp"

namespace sluice::control {

struct MetricsLimits {
    unsigned max_connections = 16;
    int64_t deadline_ms = 2000;  // from accept to the last byte of the response
    size_t max_request_head = 8192;
};

class MetricsServer {
public:
    using Render = std::function<std::string()>;

    // `address` is PORT, which binds 127.0.0.1:PORT, or HOST:PORT with a
    // numeric IPv4 or IPv6 host ("0.0.0.0:9464", "[::1]:9464"). Port 0 picks a free one.
    static Result<std::unique_ptr<MetricsServer>> bind(const std::string& address, Render render,
                                                       MetricsLimits limits = {});
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    void start();  // serves on a new thread
    void stop();   // closes every client; returns once the thread has finished

    const std::string& host() const { return host_; }  // as bound: "127.0.0.1", "[::1]"
    uint16_t port() const { return port_; }

private:
    struct Connection {
        int64_t deadline_ms = 0;
        std::string in;   // the request head so far
        std::string out;  // the response not yet sent
        bool answering = false;
    };

    MetricsServer(Render render, MetricsLimits limits) : render_(std::move(render)), limits_(limits) {}
    void run();
    void accept_all();
    bool make_room();
    void on_readable(int fd, Connection& c);
    void answer(int fd, Connection& c);
    void flush(int fd, Connection& c);
    void close_connection(int fd);
    int next_timeout_ms() const;

    Render render_;
    MetricsLimits limits_;
    std::string host_;
    uint16_t port_ = 0;
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::map<int, Connection> conns_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
};

}  // namespace sluice::control
