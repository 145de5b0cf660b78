#include "shaper/delay_recorder.hpp"

namespace sluice::shaper {

// The departure did not fit the class's tally: a counter is full, or the
// delay is outside the tally's window.
[[gnu::noinline]] void DelayRecorder::spill(uint32_t x, DelayTally& t, uint32_t bucket) {
    const uint32_t i = bucket - t.base;
    if (i < DelayTally::kWidth) {
        // A bucket that fills up is where the delays are: keep the window.
        to_window(x, bucket, DelayTally::kFull + 1);
        t.clear(i);
        t.misses = 0;
        return;
    }
    // An empty window moves for free; one that keeps missing moves to where
    // the delays are now, handing over its counts.
    constexpr uint8_t kMissesToMove = 64;
    if (!t.empty() && ++t.misses < kMissesToMove) {
        to_window(x, bucket, 1);
        return;
    }
    for (uint32_t k = 0; k < DelayTally::kWidth; ++k)
        if (const uint32_t n = t.count(k)) to_window(x, t.base + k, n);
    t = DelayTally{};
    t.base = static_cast<uint8_t>(bucket > DelayTally::kWidth / 2 ? bucket - DelayTally::kWidth / 2 : 0);
    t.add(bucket);
}

// The same one tier down: the window's counters go to the histogram when
// they pass 255 (delays beyond the window went there directly).
void DelayRecorder::add_to_window(uint32_t x, uint32_t bucket, uint32_t n) {
    uint8_t& count = windows_[x].counts[bucket];
    const uint32_t sum = count + n;
    if (sum > DelayWindow::kFull) {
        to_histogram(x, bucket, sum);
        count = 0;
    } else {
        count = static_cast<uint8_t>(sum);
    }
}

void DelayRecorder::flush_spills() {
    // Windows first: what they spill joins the histograms' batch.
    for (uint32_t i = 0; i < window_spill_count_; ++i)
        add_to_window(window_spills_[i].x, window_spills_[i].bucket, window_spills_[i].n);
    window_spill_count_ = 0;
    flush_histograms();
}

}  // namespace sluice::shaper
