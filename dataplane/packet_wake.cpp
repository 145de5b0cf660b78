#include "dataplane/packet_wake.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sluice::dataplane {

Result<std::unique_ptr<PacketWake>> PacketWake::open(const std::string& interface) {
    const unsigned index = if_nametoindex(interface.c_str());
    if (index == 0) return Error{fmt::format("no interface '{}': {}", interface, std::strerror(errno))};
    const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return Error{fmt::format("packet socket: {}", std::strerror(errno))};
    std::unique_ptr<PacketWake> w(new PacketWake(fd));
    // The filter goes on before the bind: no frame is queued in between.
    if (!w->set_filter(false)) return Error{fmt::format("packet socket filter: {}", std::strerror(errno))};
    const int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) != 0) {
        return Error{fmt::format("PACKET_IGNORE_OUTGOING: {}", std::strerror(errno))};
    }
    // One frame is enough to wake; the smallest buffer the kernel allows.
    const int small = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = static_cast<int>(index);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        return Error{fmt::format("bind to '{}': {}", interface, std::strerror(errno))};
    }
    return w;
}

// Closing the socket also takes it out of any epoll instance; the thread
// that watched it must stop waiting on it first (watch(false)).
PacketWake::~PacketWake() { close(fd_); }

bool PacketWake::set_filter(bool keep) {
    // "ret #1" keeps one byte of every frame, "ret #0" drops it.
    sock_filter insn{BPF_RET | BPF_K, 0, 0, keep ? 1u : 0u};
    sock_fprog prog{1, &insn};
    return setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0;
}

bool PacketWake::arm() { return set_filter(true); }

unsigned PacketWake::disarm() {
    set_filter(false);
    unsigned queued = 0;
    char byte;
    while (recv(fd_, &byte, sizeof(byte), MSG_DONTWAIT | MSG_TRUNC) >= 0) ++queued;
    return queued;
}

bool PacketWake::watch(bool add) {
    if (add) event_.epdata.event = EPOLLIN;
    return rte_epoll_ctl(RTE_EPOLL_PER_THREAD, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd_, &event_) == 0;
}

}  // namespace sluice::dataplane
