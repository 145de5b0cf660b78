#include "control/runtime/policy_save.hpp"

#include <fmt/format.h>

#include "control/policy/loader.hpp"
#include "control/policy/toml_writer.hpp"

namespace sluice::runtime {

std::string text_checksum(std::string_view text) {
    uint64_t h = 1469598103934665603ull;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return fmt::format("{:016x}", h);
}

Result<SavedPolicy> save_policy(const policy::Policy& p, const policy::FileSpot& spot) {
    const std::string text = policy::to_toml(p);
    // Never write a file that would not load back.
    const auto check = policy::load_string(text, spot.display);
    if (!check.ok()) {
        std::string why;
        for (const auto& d : check.diagnostics) {
            if (d.severity == policy::Diagnostic::Severity::error) why += "\n" + policy::format(d);
        }
        return Error{"the running policy does not write back cleanly; nothing was saved:" + why};
    }
    auto written = policy::write_atomically(spot, text);
    if (!written) return Error{written.error()};
    return SavedPolicy{text_checksum(text), written->backup};
}

}  // namespace sluice::runtime
