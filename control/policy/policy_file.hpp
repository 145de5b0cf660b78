// Policy files on disk, read and written as a daemon running as root must:
// never blocking, never following a path where it was not asked to, never
// writing through a name someone else may have planted.
//
// Reading: the file is opened as a path first and inspected; only a regular
// file is then opened for reading (a FIFO, a device or /proc entry is
// refused unopened), and at most kMaxPolicyBytes are read.
//
// Writing: a fresh temporary file beside the target, created O_EXCL |
// O_NOFOLLOW, written, fsync'd and renamed over the target; the previous
// file becomes FILE.bak by a hard link and a rename (never a copy), and the
// directory is fsync'd. A target that is a symbolic link or not a regular
// file is refused.
//
// A PolicyDirectory confines names to one directory (/etc/sluice by
// default): every lookup below it is resolved by the kernel with
// RESOLVE_BENEATH, so neither "..", nor an absolute symlink, nor a symlink
// planted to lead out can reach a file outside.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sluice::policy {

// The largest policy file read; policies of 100,000 classes are a few MiB.
inline constexpr size_t kMaxPolicyBytes = 12u << 20;

// An open file descriptor, closed with its owner.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// Reads `path` (symlinks in it followed) as a policy file: a regular file of
// at most `max` bytes.
Result<std::string> read_policy_text(const std::string& path, size_t max = kMaxPolicyBytes);

// Where a file is to be written: its directory, open, and its name in it.
struct FileSpot {
    UniqueFd dir;
    std::string name;     // one path component
    std::string display;  // the path, for messages
};

// The spot for `path`, its directory opened as named (symlinks followed).
Result<FileSpot> spot_of(const std::string& path);

struct Written {
    std::string backup;  // FILE.bak when a previous file was kept, else empty
};

// Writes `text` to `spot` atomically, as described at the top.
Result<Written> write_atomically(const FileSpot& spot, std::string_view text);

class PolicyDirectory {
public:
    // Opens `dir`. Does not fail when it is missing: then nothing is below it.
    static PolicyDirectory open(const std::string& dir);

    const std::string& path() const { return path_; }
    // Whether absolute `path` names something below the directory, by its
    // spelling (".." removed, symlinks not followed): the part below it.
    std::optional<std::string> below(const std::string& path) const;
    // Reads `path` (absolute, or relative to the directory) as a policy
    // file, resolved by the kernel without leaving the directory.
    Result<std::string> read(const std::string& path, size_t max = kMaxPolicyBytes) const;
    // The spot to write `path`, its directory resolved without leaving this one.
    Result<FileSpot> spot(const std::string& path) const;

private:
    Result<std::string> relative_part(const std::string& path) const;

    std::string path_;
    std::string canonical_;  // the directory with symlinks resolved
    std::shared_ptr<const UniqueFd> fd_;  // O_PATH; null when the directory is missing
};

}  // namespace sluice::policy
