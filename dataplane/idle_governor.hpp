// When a polling worker may sleep, and for how long.
//
// Each turn of a worker's loop ends one of three ways: it moved packets
// (traffic); it moved none but still holds some (a scheduler backlog waiting
// for tokens, or frames the port refused: work falls due soon, so it must keep
// polling); or it moved none and holds none (an empty turn). The governor
// keeps polling through short gaps, the gaps between the packets of one
// exchange, and starts to sleep only once the worker has had nothing but
// empty turns for `spin_cycles`: first `first_sleep_ns`, then twice as long
// each time, up to `max_sleep_ns`. Traffic or held packets put it straight
// back to polling.
//
// The longest sleep bounds what idling costs: the first packet after a quiet
// spell waits at most one sleep (plus the time the kernel takes to wake the
// thread), and packets arriving meanwhile wait in the port's receive ring,
// so the ring must hold what the link can deliver in one sleep.
//
// The worker calls on_traffic() after a turn that moved packets and
// on_empty_turn() after one that moved none: a busy worker pays one
// predictable branch per turn. Time comes in as TSC cycles from the caller,
// so the states can be tested without a clock.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice::dataplane {

class IdleGovernor {
public:
    struct Settings {
        bool enabled = false;         // off: on_empty_turn() never asks for a sleep
        uint64_t spin_cycles = 0;     // empty turns for this long before the first sleep
        uint64_t first_sleep_ns = 0;  // the first sleep; each next one is twice as long
        uint64_t max_sleep_ns = 0;    // the longest sleep
    };

    enum class State {
        polling,   // the last turn moved or held packets
        spinning,  // empty turns, not yet for spin_cycles
        sleeping,  // empty turns for longer: each asks for a sleep
    };

    explicit IdleGovernor(const Settings& s) : s_(s) {
        s_.first_sleep_ns = std::clamp<uint64_t>(s_.first_sleep_ns, 1, std::max<uint64_t>(s_.max_sleep_ns, 1));
    }

    // The turn moved packets.
    void on_traffic() {
        if (state_ != State::polling) state_ = State::polling;
    }

    // The turn moved nothing; `holding`: the worker still has packets queued.
    // Returns how long to sleep, in nanoseconds; 0: poll again now.
    uint64_t on_empty_turn(uint64_t now, bool holding) {
        if (!s_.enabled || holding) {
            state_ = State::polling;
            return 0;
        }
        switch (state_) {
            case State::polling:
                state_ = State::spinning;
                idle_since_ = now;
                return 0;
            case State::spinning:
                if (now - idle_since_ < s_.spin_cycles) return 0;
                state_ = State::sleeping;
                next_sleep_ns_ = s_.first_sleep_ns;
                break;
            case State::sleeping:
                break;
        }
        const uint64_t sleep = next_sleep_ns_;
        next_sleep_ns_ = std::min(next_sleep_ns_ * 2, s_.max_sleep_ns);
        ++sleeps_;
        slept_ns_ += sleep;
        return sleep;
    }

    State state() const { return state_; }
    const Settings& settings() const { return s_; }
    // Sleeps asked for, and their total length, since the start.
    uint64_t sleeps() const { return sleeps_; }
    uint64_t slept_ns() const { return slept_ns_; }

private:
    Settings s_;
    State state_ = State::polling;
    uint64_t idle_since_ = 0;
    uint64_t next_sleep_ns_ = 0;
    uint64_t sleeps_ = 0;
    uint64_t slept_ns_ = 0;
};

}  // namespace sluice::dataplane
