// A minimal HTTP endpoint for Prometheus: GET /metrics answers the text
// exposition format produced by a callback; anything else gets 404 or 405.
//
// It runs on its own thread and serves one client at a time with short
// timeouts: a scraper is one well-behaved client, and a slow one costs at
// most the timeout. It never touches the packet path; the callback reads the
// same lock-free counters the control socket reads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "dataplane/result.hpp"

namespace sluice::control {

class MetricsServer {
public:
    using Render = std::function<std::string()>;

    // `address` is HOST:PORT with a numeric IPv4 or IPv6 host ("127.0.0.1:9464", "[::1]:9464").
    static Result<std::unique_ptr<MetricsServer>> bind(const std::string& address, Render render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    void start();
    void stop();
    uint16_t port() const { return port_; }

private:
    MetricsServer(int fd, uint16_t port, Render render) : fd_(fd), port_(port), render_(std::move(render)) {}
    void run();
    void serve(int client);

    int fd_;
    uint16_t port_;
    Render render_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
};

}  // namespace sluice::control
