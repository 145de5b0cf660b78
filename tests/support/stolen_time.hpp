// How much of the machine's CPU time the hypervisor took (steal time in
// /proc/stat) while a test ran. A rate measured in real time says nothing
// about the code while the vCPUs were mostly taken away; such a test reports
// the steal instead of judging the rate.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace sluice::test {

class StolenTime {
public:
    StolenTime() : start_(read()) {}

    // Percent of all CPU time since construction that was stolen.
    double percent() const {
        const Times now = read();
        const uint64_t total = now.total - start_.total;
        return total ? 100.0 * static_cast<double>(now.stolen - start_.stolen) / static_cast<double>(total) : 0;
    }

    // Above this, real-time rates are not judged.
    static constexpr double kLimit = 20;

private:
    struct Times {
        uint64_t total = 0;
        uint64_t stolen = 0;
    };
    static Times read() {
        std::ifstream f("/proc/stat");
        std::string cpu;
        uint64_t v[8] = {};  // user nice system idle iowait irq softirq steal
        f >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
        Times t;
        for (uint64_t x : v) t.total += x;
        t.stolen = v[7];
        return t;
    }
    Times start_;
};

// How long this process's DPDK worker threads (rte-worker-N) were ready to
// run but waited for a CPU (run_delay in /proc/self/task/TID/schedstat),
// as a share of the wall time since construction. Other tasks on the
// worker's CPU (other tests, another login session's compile: the kernel's
// autogroups share a CPU between sessions whatever the niceness) hold the
// worker off for longer than the shaper makes up, and a rate measured
// meanwhile is the machine's.
class WorkerWaits {
public:
    WorkerWaits() : start_ns_(delay_ns()), t0_(std::chrono::steady_clock::now()) {}

    double percent() const {
        const double wall = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0_).count();
        return wall > 0 ? 100.0 * static_cast<double>(delay_ns() - start_ns_) / wall : 0;
    }

    // Above this, real-time rates are not judged.
    static constexpr double kLimit = 5;

private:
    static uint64_t delay_ns() {
        uint64_t total = 0;
        std::error_code ec;
        for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
            std::ifstream comm(task.path() / "comm");
            std::string name;
            std::getline(comm, name);
            if (name.rfind("rte-worker", 0) != 0 && name.rfind("lcore-worker", 0) != 0) continue;
            std::ifstream stat(task.path() / "schedstat");
            uint64_t run = 0, delay = 0;
            if (stat >> run >> delay) total += delay;
        }
        return total;
    }
    uint64_t start_ns_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace sluice::test
