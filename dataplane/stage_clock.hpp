// Cycles spent per pipeline stage, for finding where a packet's time goes.
//
// Built in only with `-Dstage_cycles=true` (a benchmark build): then each
// stage boundary of a direction's turn reads the TSC once, and sluiced logs
// cycles per packet by stage at exit. In a normal build every call here is
// empty and the type holds nothing, so the packet path pays nothing.
#pragma once

#include <rte_cycles.h>

#include <array>
#include <cstdint>

namespace sluice::dataplane {

enum class Stage : uint8_t { rx, parse, classify, enqueue, dequeue, tx, count_ };
inline constexpr unsigned kStageCount = static_cast<unsigned>(Stage::count_);

constexpr const char* stage_name(Stage s) {
    switch (s) {
    case Stage::rx: return "rx";
    case Stage::parse: return "parse";
    case Stage::classify: return "classify";
    case Stage::enqueue: return "enqueue";
    case Stage::dequeue: return "dequeue";
    case Stage::tx: return "tx";
    case Stage::count_: break;
    }
    return "unknown";
}

#ifdef SLUICE_STAGE_CYCLES
inline constexpr bool kStageCycles = true;

class StageClock {
public:
    // Starts timing: the next stop() books the cycles since here.
    void start() { mark_ = rte_rdtsc(); }
    // Books the cycles since the last start() or stop() to `s`.
    void stop(Stage s) {
        const uint64_t t = rte_rdtsc();
        cycles_[static_cast<unsigned>(s)] += t - mark_;
        mark_ = t;
    }
    uint64_t cycles(Stage s) const { return cycles_[static_cast<unsigned>(s)]; }

private:
    uint64_t mark_ = 0;
    std::array<uint64_t, kStageCount> cycles_{};
};
#else
inline constexpr bool kStageCycles = false;

class StageClock {
public:
    void start() {}
    void stop(Stage) {}
    uint64_t cycles(Stage) const { return 0; }
};
#endif

}  // namespace sluice::dataplane
