// One daemon per port: which identities a port's devargs lock, and how the
// lock files behave when held, released, planted or left behind.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "dataplane/instance_lock.hpp"

using namespace sluice::dataplane;
namespace fs = std::filesystem;

namespace {

// A fresh directory for one test, removed afterwards.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/sluice-lock-test.XXXXXX";
        REQUIRE(mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    // The lock directory inside: created by the code under test.
    std::string locks() const { return path + "/locks"; }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

DaemonOptions ports(const std::string& lan, const std::string& wan, const std::string& socket) {
    DaemonOptions o;
    o.lan = lan;
    o.wan = wan;
    o.socket = socket;
    return o;
}

// Runs `child` in a forked process that takes the lock, tells the parent,
// and then waits for the parent's word (or exits at once when `linger` is
// false, leaving its pid in the file). Returns the child's pid.
pid_t lock_in_child(const std::string& dir, const LockIdentity& id, bool linger, int& release_fd) {
    int ready[2], release[2];
    REQUIRE(pipe(ready) == 0);
    REQUIRE(pipe(release) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        auto lock = InstanceLock::acquire({id}, dir);
        const char ok = lock ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(2);
        if (linger) {
            char c;
            if (read(release[0], &c, 1) < 0) _exit(3);
        }
        // _exit: no destructors run, as when a daemon is killed.
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char ok = 0;
    REQUIRE(read(ready[0], &ok, 1) == 1);
    close(ready[0]);
    REQUIRE(ok == 'y');
    release_fd = release[1];
    return pid;
}

void reap(pid_t pid, int release_fd) {
    close(release_fd);
    int status = 0;
    waitpid(pid, &status, 0);
}

}  // namespace

TEST_CASE("a port's identity is its interface, its PCI address or nothing") {
    struct Case {
        const char* devargs;
        std::vector<std::string> files;
    };
    const Case cases[] = {
        {"net_af_xdp0,iface=sluice-lan-1", {"iface-sluice-lan-1.lock"}},
        {"net_af_xdp1,iface=eth0,start_queue=0", {"iface-eth0.lock"}},
        {"net_af_packet0,iface=veth0,framecnt=4096", {"iface-veth0.lock"}},
        {"net_pcap0,iface=eth1", {"iface-eth1.lock"}},
        {"net_pcap0,rx_iface=eth1,tx_iface=eth2", {"iface-eth1.lock", "iface-eth2.lock"}},
        {"net_pcap0,rx_pcap=/tmp/in.pcap,tx_pcap=/tmp/out.pcap", {}},
        {"net_null0", {}},
        {"net_ring0", {}},
        {"01:00.0", {"pci-0000:01:00.0.lock"}},
        {"0000:0A:00.1", {"pci-0000:0a:00.1.lock"}},
        {"0000:0a:00.1,rxq_cqe_comp_en=0", {"pci-0000:0a:00.1.lock"}},
        // A name that tries to leave the lock directory stays inside it.
        {"net_af_packet0,iface=../../etc/x", {"iface-..+..+etc+x.lock"}},
    };
    for (const auto& c : cases) {
        INFO(c.devargs);
        std::vector<std::string> files;
        for (const auto& id : port_identities(c.devargs)) files.push_back(id.file);
        CHECK(files == c.files);
    }
    CHECK(port_identities("net_af_xdp0,iface=sluice-lan-1")[0].description == "interface sluice-lan-1");
    CHECK(port_identities("01:00.0")[0].description == "PCI device 0000:01:00.0");
    CHECK(kernel_interface("net_af_xdp0,iface=sluice-lan-1") == "sluice-lan-1");
    CHECK(kernel_interface("net_null0") == "");
    CHECK(kernel_interface("01:00.0") == "");
}

TEST_CASE("a control socket has one identity however its path is written") {
    TempDir t;
    fs::create_directories(t.path + "/run");
    fs::create_directory_symlink(t.path + "/run", t.path + "/alias");
    const auto a = socket_identity(t.path + "/run/sluiced.sock");
    CHECK(socket_identity(t.path + "/alias/sluiced.sock") == a);
    CHECK(socket_identity(t.path + "/run/../run/./sluiced.sock") == a);
    const auto cwd = fs::current_path();
    fs::current_path(t.path);
    CHECK(socket_identity("run/sluiced.sock") == a);
    fs::current_path(cwd);
    CHECK_FALSE(socket_identity(t.path + "/run/other.sock") == a);
    CHECK(a.file.find('/') == std::string::npos);
    CHECK(socket_identity("/run/sluice/sluiced.sock").file == "socket+run+sluice+sluiced.sock.lock");
    // Too long to escape into a file name: hashed, still one file.
    const std::string long_path = "/run/" + std::string(100, 'x') + "/" + std::string(90, '%');
    CHECK(socket_identity(long_path).file.size() < 255);
    CHECK(socket_identity(long_path).file.find('/') == std::string::npos);
}

TEST_CASE("a second lock on the same interface fails and names the holder's pid") {
    TempDir t;
    const auto id = port_identities("net_af_xdp0,iface=sluice-lan-1")[0];
    int release = -1;
    const pid_t holder = lock_in_child(t.locks(), id, true, release);

    auto second = InstanceLock::acquire({id}, t.locks());
    REQUIRE_FALSE(second.ok());
    CHECK(contains(second.error(), fmt::format("interface sluice-lan-1 is already driven by sluiced pid {}; stop it first",
                                               holder)));
    // The file says who holds it.
    CHECK(slurp(t.locks() + "/" + id.file).rfind(std::to_string(holder) + "\n", 0) == 0);
    reap(holder, release);
}

TEST_CASE("the socket lock is refused with the other daemon's pid, even with other ports") {
    TempDir t;
    const std::string sock = t.path + "/sluiced.sock";
    auto first = InstanceLock::acquire(ports("net_null0", "net_null1", sock), t.locks());
    REQUIRE(first.ok());
    // flock is per open file: a second open in this process conflicts too.
    auto second = InstanceLock::acquire(ports("net_ring0", "net_ring1", sock), t.locks());
    REQUIRE_FALSE(second.ok());
    CHECK(contains(second.error(), "control socket " + sock + " is already served by sluiced pid " +
                                       std::to_string(getpid()) + "; stop it first or choose another --socket"));
}

TEST_CASE("a lock is released when its owner is destroyed") {
    TempDir t;
    const auto o = ports("net_af_xdp0,iface=sl1l", "net_af_xdp1,iface=sl1w", t.path + "/s.sock");
    {
        auto first = InstanceLock::acquire(o, t.locks());
        REQUIRE(first.ok());
        CHECK(first->held().size() == 3);
        CHECK_FALSE(InstanceLock::acquire(o, t.locks()).ok());
    }
    // A daemon that exits normally leaves no lock files behind.
    CHECK(fs::is_empty(t.locks()));
    auto again = InstanceLock::acquire(o, t.locks());
    REQUIRE(again.ok());
    CHECK(again->held().size() == 3);
}

TEST_CASE("a daemon refused one lock gives back the ones it took") {
    TempDir t;
    const std::string sock = t.path + "/s.sock";
    auto first = InstanceLock::acquire(ports("net_null0", "net_null1", sock), t.locks());
    REQUIRE(first.ok());
    // iface-... sorts before socket...: taken, then given back.
    auto second = InstanceLock::acquire(ports("net_af_xdp0,iface=sl1l", "net_null1", sock), t.locks());
    REQUIRE_FALSE(second.ok());
    CHECK_FALSE(fs::exists(t.locks() + "/iface-sl1l.lock"));
    auto third = InstanceLock::acquire(ports("net_af_xdp0,iface=sl1l", "net_null1", t.path + "/other.sock"), t.locks());
    CHECK(third.ok());
}

TEST_CASE("a lock file left by a dead daemon is taken over") {
    TempDir t;
    const auto id = port_identities("net_af_packet0,iface=eth7")[0];
    int release = -1;
    const pid_t dead = lock_in_child(t.locks(), id, false, release);
    reap(dead, release);
    REQUIRE(slurp(t.locks() + "/" + id.file).rfind(std::to_string(dead) + "\n", 0) == 0);

    auto lock = InstanceLock::acquire({id}, t.locks());
    REQUIRE(lock.ok());
    CHECK(slurp(t.locks() + "/" + id.file) == std::to_string(getpid()) + "\ninterface eth7\n");
}

TEST_CASE("a symbolic link planted at a lock file's name is not followed") {
    TempDir t;
    fs::create_directory(t.locks());
    const auto id = port_identities("net_af_xdp0,iface=sl1l")[0];
    const std::string target = t.path + "/precious";
    { std::ofstream(target) << "keep me\n"; }
    fs::create_symlink(target, t.locks() + "/" + id.file);

    auto lock = InstanceLock::acquire({id}, t.locks());
    REQUIRE_FALSE(lock.ok());
    CHECK(contains(lock.error(), "is a symbolic link; remove it"));
    CHECK(slurp(target) == "keep me\n");
}

TEST_CASE("a hard link at a lock file's name is refused") {
    TempDir t;
    fs::create_directory(t.locks());
    const auto id = port_identities("net_af_xdp0,iface=sl1l")[0];
    const std::string target = t.path + "/precious";
    { std::ofstream(target) << "keep me\n"; }
    fs::create_hard_link(target, t.locks() + "/" + id.file);
    auto lock = InstanceLock::acquire({id}, t.locks());
    REQUIRE_FALSE(lock.ok());
    CHECK(slurp(target) == "keep me\n");
}

TEST_CASE("the lock directory is created 0755 and refused when others may write to it") {
    TempDir t;
    const auto o = ports("net_null0", "net_null1", t.path + "/s.sock");
    {
        auto lock = InstanceLock::acquire(o, t.locks());
        REQUIRE(lock.ok());
        struct stat st{};
        REQUIRE(stat(t.locks().c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0755);
    }
    REQUIRE(chmod(t.locks().c_str(), 01777) == 0);
    auto lock = InstanceLock::acquire(o, t.locks());
    REQUIRE_FALSE(lock.ok());
    CHECK(contains(lock.error(), "is writable by others"));

    // A symbolic link in place of the directory is refused as well.
    fs::create_directory(t.path + "/elsewhere");
    fs::create_directory_symlink(t.path + "/elsewhere", t.path + "/linked");
    auto linked = InstanceLock::acquire(o, t.path + "/linked");
    REQUIRE_FALSE(linked.ok());
    CHECK(contains(linked.error(), "not a directory"));
}

TEST_CASE("a daemon whose two ports are one device is refused") {
    TempDir t;
    auto same_if = InstanceLock::acquire(
        ports("net_af_xdp0,iface=sl1l", "net_af_packet1,iface=sl1l", t.path + "/s.sock"), t.locks());
    REQUIRE_FALSE(same_if.ok());
    CHECK(same_if.error() == "--lan and --wan both name interface sl1l; a port can be used only once");

    auto same_pci = InstanceLock::acquire(ports("01:00.0", "0000:01:00.0", t.path + "/s.sock"), t.locks());
    REQUIRE_FALSE(same_pci.ok());
    CHECK(contains(same_pci.error(), "both name PCI device 0000:01:00.0"));
}

TEST_CASE("devices given to the EAL after -- are locked too") {
    TempDir t;
    auto o = ports("net_af_xdp0,iface=sl1l", "net_af_xdp1,iface=sl1w", t.path + "/s.sock");
    o.eal_args = {"--vdev", "net_af_packet5,iface=sl9", "--vdev=net_null7", "-a", "0000:02:00.0", "-a03:00.0"};
    auto lock = InstanceLock::acquire(o, t.locks());
    REQUIRE(lock.ok());
    std::vector<std::string> files;
    for (const auto& l : lock->held()) files.push_back(l.identity().file);
    CHECK(files.size() == 6);
    CHECK(std::find(files.begin(), files.end(), "iface-sl9.lock") != files.end());
    CHECK(std::find(files.begin(), files.end(), "pci-0000:02:00.0.lock") != files.end());
    CHECK(std::find(files.begin(), files.end(), "pci-0000:03:00.0.lock") != files.end());

    auto other = ports("net_af_xdp0,iface=sl9", "net_null0", t.path + "/other.sock");
    auto refused = InstanceLock::acquire(other, t.locks());
    REQUIRE_FALSE(refused.ok());
    CHECK(contains(refused.error(), "interface sl9 is already driven by sluiced pid"));
}
