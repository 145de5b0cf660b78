// The control socket: a Unix stream socket served by one thread (the control
// thread, never a packet lcore) with epoll, non-blocking throughout.
//
// Bounded in every direction: a request line may be at most
// `max_request_bytes`, all connections together may hold at most
// `max_buffered_bytes` of unanswered input, a uid other than root at most
// `max_per_uid` connections and all of them together `max_connections -
// root_reserved` (the rest are root's, so a flood of members never locks
// root out), a connection may go `idle_timeout_ms` without completing a
// request (dripping bytes does not count as activity), a client with more
// than `max_output_bytes` of answers waiting gets no more answers (its
// input stays unread in the kernel) until it takes them, and one that takes
// none for `output_stall_ms` is dropped. One client can therefore never
// stall another, and nothing a client sends reaches the packet path except
// through command handlers.
//
// Commands marked `background` (CommandSpec) run one after another on a
// second thread; the connection that asked waits for its answer (its later
// requests are answered after it, in order) while every other connection is
// served as before. A client that asked for progress gets interim lines
// meanwhile (protocol.hpp).
//
// Each connection's role (root, member of the socket's group, or neither)
// is fixed at accept from the kernel's credentials; the command table
// enforces what each role may do.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "control/server/command_table.hpp"
#include "common/result.hpp"

namespace sluice::control {

struct ServerLimits {
    size_t max_request_bytes = kMaxRequestBytes;
    size_t max_buffered_bytes = 64u << 20;
    unsigned max_connections = 64;
    unsigned max_per_uid = 8;
    unsigned root_reserved = 4;
    int idle_timeout_ms = 60'000;
    // Answers waiting for a client: beyond this many bytes its later
    // requests wait (and its input is not read) until it has taken enough;
    // one answer may be larger than this.
    size_t max_output_bytes = 8u << 20;
    // A client that takes none of its waiting answers for this long is
    // disconnected.
    int output_stall_ms = 10'000;
};

class SocketServer {
public:
    // Creates and binds the socket: replaces a stale one left by a crashed
    // daemon, refuses to steal one that a live daemon still serves. The
    // socket is made in a private directory, given mode 0660 and `group`
    // there (when that group exists; otherwise only root may connect), and
    // only then renamed into place, so no one can redirect the chmod or
    // chown, whoever else may write to the socket's directory.
    static Result<std::unique_ptr<SocketServer>> bind(const std::string& path, const CommandTable& table,
                                                      ServerLimits limits = {}, const std::string& group = "sluice");
    ~SocketServer();
    SocketServer(const SocketServer&) = delete;
    SocketServer& operator=(const SocketServer&) = delete;

    void start();  // serves on a new thread
    void stop();   // returns once the thread has finished

    const std::string& path() const { return path_; }

private:
    struct Connection {
        std::string in;
        size_t scanned = 0;  // bytes of `in` known to hold no newline
        std::string out;
        size_t out_sent = 0;             // bytes at the front of `out` already sent
        int64_t out_waiting_ms = 0;      // since when `out` has waited without progress
        bool held = false;               // requests wait for the answers to drain
        Peer peer;
        int64_t last_request_ms = 0;  // accept, or the last complete request
        bool closing = false;         // flush what is queued, then close
        bool eof = false;             // the client has sent all it will send
        uint64_t serial = 0;          // tells a reused fd from the connection that asked
        // A background command this connection waits for.
        bool busy = false;
        bool progress = false;
        json busy_id;
        std::string busy_cmd;
        int64_t busy_since_ms = 0;
        int64_t next_progress_ms = 0;
    };
    struct Job {
        int fd;
        uint64_t serial;
        Request request;
        Peer peer;
    };
    struct Done {
        int fd;
        uint64_t serial;
        std::string response;
    };

    SocketServer(std::string path, const CommandTable& table, ServerLimits limits)
        : path_(std::move(path)), table_(table), limits_(limits) {}
    void run();
    void accept_all();
    // Why a new connection from this peer cannot be served now; empty when it can.
    std::string refusal(const Peer& peer) const;
    void on_readable(int fd, Connection& c);
    void answer_lines(int fd, Connection& c);
    // After the client's end of input: a last request cut short is answered.
    void finish_input(Connection& c);
    void run_jobs();
    void collect_done();
    void send_progress(int64_t now);
    void flush(int fd, Connection& c);
    void close_connection(int fd);
    void watch_output(int fd, bool want, bool input = true);

    std::string path_;
    const CommandTable& table_;
    ServerLimits limits_;
    gid_t group_ = 0;
    bool have_group_ = false;
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::map<int, Connection> conns_;
    std::unordered_map<uid_t, unsigned> per_uid_;
    unsigned non_root_ = 0;
    size_t buffered_ = 0;  // sum of every connection's `in`
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    uint64_t next_serial_ = 1;

    // Background commands: queued by the control thread, run by jobs_thread_,
    // answered back through done_ and done_fd_.
    int done_fd_ = -1;
    std::thread jobs_thread_;
    std::mutex jobs_mutex_;
    std::condition_variable jobs_cv_;
    std::deque<Job> jobs_;
    std::deque<Done> done_;
    uint64_t running_serial_ = 0;  // the connection whose job runs now; 0: none
    bool jobs_stopping_ = false;
};

}  // namespace sluice::control
