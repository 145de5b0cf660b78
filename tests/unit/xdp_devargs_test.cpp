// The devargs sluiced gives the EAL for af_xdp ports: xdp_prog= naming the
// management program's object, written into the given directory; other
// ports, and af_xdp ports that name a program of their own, unchanged.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dataplane/xdp_port.hpp"

using sluice::dataplane::with_management_program;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/hx-devargsXXXXXX";
        REQUIRE(mkdtemp(t) != nullptr);
        path = t;
    }
    ~TempDir() { std::system(("rm -rf " + path).c_str()); }
};

}  // namespace

TEST_CASE("an af_xdp port's devargs gain xdp_prog naming the written object") {
    TempDir t;
    const std::string dir = t.path + "/xdp";
    auto d = with_management_program("net_af_xdp0,iface=lan0,start_queue=0", dir);
    REQUIRE(d);
    CHECK(*d == "net_af_xdp0,iface=lan0,start_queue=0,xdp_prog=" + dir + "/management.bpf.o");
    struct stat st {};
    CHECK(stat((dir + "/management.bpf.o").c_str(), &st) == 0);
    CHECK(st.st_size > 0);
}

TEST_CASE("other ports and af_xdp ports with a program of their own keep their devargs") {
    TempDir t;
    const std::string dir = t.path + "/xdp";
    for (const std::string devargs : {"net_af_packet0,iface=lan0", "0000:01:00.0", "net_pcap0,rx_pcap=a.pcap",
                                      "net_af_xdp1,iface=wan0,xdp_prog=/usr/lib/mine.o"}) {
        auto d = with_management_program(devargs, dir);
        REQUIRE(d);
        CHECK(*d == devargs);
    }
    struct stat st {};
    CHECK(stat(dir.c_str(), &st) != 0);  // nothing written when no port needs it
}

TEST_CASE("every af_xdp --vdev of an EAL command line gets the program, nothing else changes") {
    TempDir t;
    const std::string dir = t.path + "/xdp";
    const std::vector<std::string> args{"sluiced", "--vdev", "net_af_xdp0,iface=lan0", "--vdev",
                                        "net_af_packet1,iface=wan0", "--no-pci"};
    auto out = with_management_program(args, dir);
    REQUIRE(out);
    CHECK(*out == std::vector<std::string>{"sluiced", "--vdev",
                                           "net_af_xdp0,iface=lan0,xdp_prog=" + dir + "/management.bpf.o", "--vdev",
                                           "net_af_packet1,iface=wan0", "--no-pci"});
}

TEST_CASE("a directory for the object that others can write to refuses the port") {
    TempDir t;
    const std::string dir = t.path + "/xdp";
    REQUIRE(mkdir(dir.c_str(), 0777) == 0);
    REQUIRE(chmod(dir.c_str(), 0777) == 0);
    auto d = with_management_program("net_af_xdp0,iface=lan0", dir);
    REQUIRE_FALSE(d);
    CHECK(d.error() == "net_af_xdp0: cannot provide the management XDP program: " + dir +
                           " is writable by others or belongs to another user; the XDP program must not be "
                           "replaceable there: remove the directory (sluiced makes it again, mode 0700)");
}
