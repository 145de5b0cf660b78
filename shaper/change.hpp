// Live changes to a running scheduler, as typed values.
//
// The control thread builds these and sends them on the worker's ring; the
// worker applies them between bursts with Scheduler::apply(), which checks
// the whole change before it touches any state and answers with a Status.
// Packets already queued are kept: a rate change keeps the bytes a class
// has saved or owes, a removed class's packets move to another leaf or are
// dropped under DropReason::class_removed, one by one, through the drop
// handler. (An owner that can classify packets again moves them first, by
// flow, with Scheduler::move_queued.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "shaper/config.hpp"

namespace sluice::shaper {

struct AddClass {
    ClassConfig config;
};

// Removes the class and everything below it.
struct RemoveClass {
    uint32_t id = 0;
    // A leaf outside the removed subtree that takes the queued packets
    // (the parent's default class); without one they are dropped.
    std::optional<uint32_t> move_packets_to;
};

// Fields left empty keep their value. Rates in bytes per second.
struct ModifyClass {
    uint32_t id = 0;
    std::optional<uint64_t> rate;
    std::optional<uint64_t> ceil;
    std::optional<uint32_t> burst;
    std::optional<uint32_t> cburst;
    std::optional<uint8_t> prio;
    std::optional<uint32_t> weight;
};

using ClassChange = std::variant<AddClass, RemoveClass, ModifyClass>;

// The answer to a change: success, or why nothing was changed.
class [[nodiscard]] Status {
public:
    static Status success() { return Status{}; }
    static Status failure(std::string message) { return Status{std::move(message)}; }

    bool ok() const { return error_.empty(); }
    explicit operator bool() const { return ok(); }
    const std::string& error() const { return error_; }

private:
    Status() = default;
    explicit Status(std::string m) : error_(std::move(m)) {}
    std::string error_;
};

}  // namespace sluice::shaper
