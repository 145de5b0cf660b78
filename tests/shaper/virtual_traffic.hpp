// A virtual-time traffic harness for scheduler tests.
//
// Sources put packets into classes; every `step` of virtual time the
// harness enqueues what the sources produced and dequeues everything the
// scheduler lets go, recording per source the bytes that departed inside a
// measurement window and each packet's queueing delay. The clock is a
// counter of nanoseconds, so runs are exact and repeatable.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "shaper/scheduler.hpp"

namespace sluice::shaper::testing {

inline constexpr uint64_t kHz = 1'000'000'000;  // virtual ticks are nanoseconds

// A scheduler on the virtual clock (`cfg` with its tick rate set to kHz)
// holding `classes`, added at tick 0. A class it refuses throws, which
// fails the test that asked for it.
inline Scheduler scheduler_with(std::initializer_list<ClassConfig> classes, SchedulerConfig cfg = {}) {
    cfg.tick_hz = kHz;
    Scheduler s(cfg);
    for (const ClassConfig& c : classes) {
        if (const Status st = s.apply(AddClass{c}, 0); !st.ok()) {
            throw std::runtime_error("class " + std::to_string(c.id) + " refused: " + st.error());
        }
    }
    return s;
}
inline constexpr uint64_t ms(double v) { return static_cast<uint64_t>(v * 1e6); }
inline constexpr uint64_t sec(double v) { return static_cast<uint64_t>(v * 1e9); }
inline constexpr uint64_t mbit(double v) { return static_cast<uint64_t>(v * 1e6 / 8); }
inline constexpr uint64_t kbit(double v) { return static_cast<uint64_t>(v * 1e3 / 8); }
inline constexpr uint64_t gbit(double v) { return static_cast<uint64_t>(v * 1e9 / 8); }

struct Source {
    enum class Kind { saturating, paced, aimd };
    uint32_t class_id = 0;
    uint32_t length = 1'500;
    uint32_t flow_hash = 0;
    Kind kind = Kind::saturating;
    uint32_t keep_queued = 64;   // saturating: packets kept waiting
    double rate = 0;             // paced/aimd: bytes per second offered
    uint64_t start = 0;          // first tick it sends
    uint64_t stop = UINT64_MAX;  // first tick it no longer sends
    // aimd: halve on a drop (at most once per rtt), else add one packet per rtt
    uint64_t rtt = ms(20);

    // Results
    uint64_t offered_packets = 0;
    uint64_t departed_packets = 0;
    uint64_t dropped_packets = 0;
    uint64_t window_bytes = 0;  // departed frame bytes inside the window
    std::vector<uint64_t> delays;  // departed inside the window, ticks
    bool record_departures = false;
    std::vector<std::pair<uint64_t, uint32_t>> departures;  // (tick, frame bytes), if recorded

    // State
    uint64_t next_send = 0;
    uint64_t last_cut = 0;
    uint64_t last_grow = 0;
    uint32_t outstanding() const { return static_cast<uint32_t>(offered_packets - departed_packets - dropped_packets); }

    double window_rate(uint64_t window_ticks) const {
        return static_cast<double>(window_bytes) * static_cast<double>(kHz) / static_cast<double>(window_ticks);
    }
    uint64_t delay_quantile(double q) const {
        if (delays.empty()) return 0;
        std::vector<uint64_t> d = delays;
        const auto k = static_cast<size_t>(q * static_cast<double>(d.size() - 1));
        std::nth_element(d.begin(), d.begin() + static_cast<ptrdiff_t>(k), d.end());
        return d[k];
    }
};

class VirtualTraffic {
public:
    explicit VirtualTraffic(Scheduler& s, uint64_t step = 10'000) : s_(s), step_(step) {
        s_.set_drop_handler(&VirtualTraffic::on_drop, this);
    }

    size_t add(Source src) {
        src.next_send = src.start;
        sources_.push_back(src);
        return sources_.size() - 1;
    }
    Source& source(size_t i) { return sources_[i]; }
    uint64_t now() const { return now_; }
    uint64_t drops() const { return drops_; }
    uint64_t departed() const { return departed_; }

    // Runs until `end`, counting departures in [window_start, window_end).
    void run(uint64_t end, uint64_t window_start = 0, uint64_t window_end = UINT64_MAX) {
        Packet out[64];
        while (now_ < end) {
            now_ += step_;
            for (size_t i = 0; i < sources_.size(); ++i) produce(i);
            for (;;) {
                const uint32_t n = s_.dequeue_burst(out, 64, now_);
                for (uint32_t k = 0; k < n; ++k) depart(out[k], window_start, window_end);
                if (n < 64) break;
            }
        }
    }

    // Runs as the daemon's worker does: one turn per clock reading, with
    // one dequeue of at most `per_turn` packets (its tx burst) in each; the
    // clock then moves on by `next_step(now)`, which may leave gaps (the
    // worker lost its CPU). Departures count in [window_start, window_end).
    template <class NextStep>
    void run_turns(uint64_t end, uint32_t per_turn, NextStep next_step, uint64_t window_start = 0,
                   uint64_t window_end = UINT64_MAX) {
        std::vector<Packet> out(per_turn);
        while (now_ < end) {
            now_ += next_step(now_);
            for (size_t i = 0; i < sources_.size(); ++i) produce(i);
            const uint32_t n = s_.dequeue_burst(out.data(), per_turn, now_);
            for (uint32_t k = 0; k < n; ++k) depart(out[k], window_start, window_end);
        }
    }

private:
    static uint64_t handle_of(size_t src, uint64_t t) { return (uint64_t{src} << 48) | t; }

    void produce(size_t i) {
        Source& src = sources_[i];
        if (now_ < src.start || now_ >= src.stop) return;
        if (src.kind == Source::Kind::saturating) {
            while (src.outstanding() < src.keep_queued) send(i, now_);
            return;
        }
        if (src.kind == Source::Kind::aimd && now_ - src.last_grow >= src.rtt) {
            src.rate += src.length * 1e9 / static_cast<double>(src.rtt);
            src.last_grow = now_;
        }
        while (src.next_send <= now_ && src.next_send < src.stop) {
            send(i, src.next_send);
            src.next_send += static_cast<uint64_t>(src.length * 1e9 / src.rate);
        }
    }

    void send(size_t i, uint64_t t) {
        Source& src = sources_[i];
        ++src.offered_packets;
        s_.enqueue(src.class_id, Packet{handle_of(i, t), src.length, src.flow_hash}, t);
    }

    void depart(const Packet& p, uint64_t w0, uint64_t w1) {
        Source& src = sources_[p.handle >> 48];
        ++src.departed_packets;
        ++departed_;
        if (src.record_departures) src.departures.emplace_back(now_, p.length);
        if (now_ > w0 && now_ <= w1) {
            src.window_bytes += p.length;
            src.delays.push_back(now_ - (p.handle & ((uint64_t{1} << 48) - 1)));
        }
    }

    static void on_drop(void* self, const Packet& p, DropReason) {
        auto& t = *static_cast<VirtualTraffic*>(self);
        Source& src = t.sources_[p.handle >> 48];
        ++src.dropped_packets;
        ++t.drops_;
        if (src.kind == Source::Kind::aimd && t.now_ - src.last_cut >= src.rtt) {
            src.rate = std::max(src.rate / 2, 1e4);
            src.last_cut = t.now_;
        }
    }

    Scheduler& s_;
    uint64_t step_;
    uint64_t now_ = 0;
    uint64_t drops_ = 0;
    uint64_t departed_ = 0;
    std::vector<Source> sources_;
};

// Adds a class or fails the test with the scheduler's message.
inline ClassConfig leaf(uint32_t id, uint32_t parent, uint64_t rate, uint64_t ceil = 0, uint8_t prio = 0,
                        uint32_t weight = 1, LeafKind kind = LeafKind::fifo) {
    ClassConfig c;
    c.id = id;
    c.parent = parent;
    c.rate = rate;
    c.ceil = ceil;
    c.prio = prio;
    c.weight = weight;
    c.leaf.kind = kind;
    return c;
}

}  // namespace sluice::shaper::testing
