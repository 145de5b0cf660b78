// A wake-up for an idle worker on a port without rx interrupts whose frames
// come from a kernel interface (af_packet): a second packet socket on the
// same interface that the worker can wait on.
//
// While the worker polls, the socket's filter drops every frame in the
// kernel (a one-instruction BPF program), so it costs nothing per packet
// and queues nothing. Before the worker sleeps it arms the socket (a filter
// that keeps the first byte of each incoming frame) and waits for it to turn
// readable; when it wakes it disarms it and drains what was queued. Frames
// the gateway itself sends out of the interface are ignored
// (PACKET_IGNORE_OUTGOING), or a worker would wake itself.
//
// The socket is registered with the calling thread's DPDK epoll instance, so
// a worker can wait for these and for ports with real rx interrupts at once.
#pragma once

#include <rte_interrupts.h>

#include <memory>
#include <string>

#include "common/result.hpp"

namespace sluice::dataplane {

class PacketWake {
public:
    static Result<std::unique_ptr<PacketWake>> open(const std::string& interface);
    ~PacketWake();
    PacketWake(const PacketWake&) = delete;
    PacketWake& operator=(const PacketWake&) = delete;

    // The next incoming frame makes the socket readable (and wakes a wait).
    bool arm();
    // Frames are dropped again; what was queued meanwhile is read away.
    // Returns how many frames were queued.
    unsigned disarm();

    int fd() const { return fd_; }
    // Adds (or removes) the socket to the calling thread's DPDK epoll
    // instance (RTE_EPOLL_PER_THREAD); true on success. The thread that
    // added it removes it before it stops.
    bool watch(bool add);

private:
    explicit PacketWake(int fd) : fd_(fd) {}
    bool set_filter(bool keep);

    int fd_;
    rte_epoll_event event_{};  // DPDK's epoll keeps a pointer to it
};

}  // namespace sluice::dataplane
