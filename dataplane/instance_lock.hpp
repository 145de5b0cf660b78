// One daemon per port: exclusive locks on the ports' identities (a kernel
// interface, a PCI address) and on the control socket's path, taken before
// the EAL probes any device. A second sluiced on the same port must fail
// before it touches the port: closing an af_xdp port detaches the XDP program
// from the interface, which silently stops the daemon already running there.
//
// Each lock is an flock(LOCK_EX | LOCK_NB) on a file in a directory that only
// the daemon's user can write (/run/lock/sluice for root). The file holds the
// owner's pid; the kernel drops the lock when the owner exits, however it
// exits, so a file left by a daemon that was killed is simply taken over.
// A daemon that exits normally removes its files.
#pragma once

#include <string>
#include <vector>

#include "dataplane/options.hpp"
#include "common/result.hpp"

namespace sluice::dataplane {

// What one lock stands for.
struct LockIdentity {
    std::string file;         // the lock file's name inside the lock directory
    std::string description;  // "interface sl1l", "PCI device 0000:01:00.0"
    std::string verb;         // "driven" or "served", as in "already driven by"
    std::string advice;       // what the operator can do, after "stop it first"

    bool operator==(const LockIdentity& o) const { return file == o.file; }
};

// The kernel interface a port reads and writes (the iface= of an af_xdp,
// af_packet, pcap or tap vdev); empty when its devargs name none.
std::string kernel_interface(const std::string& devargs);

// The PCI address in its full form (0000:01:00.0, lower case).
std::string normalised_pci_address(const std::string& devargs);

// What the port that `devargs` describes shares with other processes: its
// PCI address, or the kernel interfaces or vhost-user socket its vdev names.
// Empty for process-local vdevs (net_null, net_ring, net_pcap on files).
std::vector<LockIdentity> port_identities(const std::string& devargs);

// The control socket at `path`, whatever relative path or symbolic link in
// its directory names it.
LockIdentity socket_identity(const std::string& path);

// /run/lock/sluice for root; otherwise $XDG_RUNTIME_DIR/sluice, or
// /tmp/sluice-UID without it.
std::string default_lock_directory();

// One held lock file. Move-only; the destructor removes the file and closes
// it, which releases the lock. Removal is safe because only the holder
// removes, and a process that locks a file someone removed meanwhile sees
// that the name no longer leads to it and tries again.
class LockFile {
public:
    // `dir_fd` is the checked lock directory, `dir` its path for messages.
    static Result<LockFile> acquire(int dir_fd, const std::string& dir, const LockIdentity& id);
    LockFile(LockFile&& o) noexcept;
    LockFile& operator=(LockFile&& o) noexcept;
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;
    ~LockFile();

    const LockIdentity& identity() const { return id_; }

private:
    LockFile(int dir_fd, int fd, LockIdentity id) : dir_fd_(dir_fd), fd_(fd), id_(std::move(id)) {}
    void release();

    int dir_fd_ = -1;  // the lock directory, to remove the file by name
    int fd_ = -1;
    LockIdentity id_;
};

// Every lock one daemon needs: its two ports, the devices passed to the EAL
// directly (--vdev, -a after "--"), and its control socket.
class InstanceLock {
public:
    // Fails naming the pid that holds a lock, when the two ports are one
    // device, or when the lock directory is unsafe.
    static Result<InstanceLock> acquire(const DaemonOptions& o, const std::string& dir = default_lock_directory());

    // The same for an explicit list of identities.
    static Result<InstanceLock> acquire(const std::vector<LockIdentity>& ids, const std::string& dir);

    const std::vector<LockFile>& held() const { return locks_; }
    const std::string& directory() const { return dir_; }

private:
    std::string dir_;
    std::vector<LockFile> locks_;
};

}  // namespace sluice::dataplane
