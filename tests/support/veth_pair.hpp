// A veth pair in the test's namespace, for tests that need a kernel
// interface (packet sockets, af_packet ports): IPv6 off on both ends so that
// nothing but the test's own frames crosses it; removed by the destructor.
// Needs root.
#pragma once

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace sluice::test {

struct VethPair {
    std::string a, b;
    explicit VethPair(const std::string& prefix) {
        const std::string id = std::to_string(getpid() % 100000);
        a = prefix + id + "a";
        b = prefix + id + "b";
        run("ip link add " + a + " type veth peer name " + b);
        for (const auto& i : {a, b}) {
            run("sysctl -qw net.ipv6.conf." + i + ".disable_ipv6=1");
            run("ip link set " + i + " up");
        }
    }
    ~VethPair() { run("ip link del " + a); }
    VethPair(const VethPair&) = delete;
    VethPair& operator=(const VethPair&) = delete;

    static int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }
};

// A raw socket that sends whole frames out of one interface.
class FrameSender {
public:
    explicit FrameSender(const std::string& interface) : fd_(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))) {
        to_.sll_family = AF_PACKET;
        to_.sll_ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
        to_.sll_halen = ETH_ALEN;
    }
    ~FrameSender() {
        if (fd_ >= 0) close(fd_);
    }
    FrameSender(const FrameSender&) = delete;
    FrameSender& operator=(const FrameSender&) = delete;

    bool ok() const { return fd_ >= 0 && to_.sll_ifindex != 0; }
    bool send(const std::vector<uint8_t>& frame) const {
        return sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&to_), sizeof(to_)) ==
               static_cast<ssize_t>(frame.size());
    }

private:
    int fd_;
    sockaddr_ll to_{};
};

}  // namespace sluice::test
