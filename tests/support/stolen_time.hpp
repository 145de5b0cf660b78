// How much of the machine's CPU time the hypervisor took (steal time in
// /proc/stat) while a test ran. A rate measured in real time says nothing
// about the code while the vCPUs were mostly taken away; such a test reports
// the steal instead of judging the rate.
#pragma once

#include <cstdint>
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

}  // namespace sluice::test
