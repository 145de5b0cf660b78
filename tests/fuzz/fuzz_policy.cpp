// libFuzzer harness for the policy loader and its write-back.
//
// Input: the text of a policy file. Whatever it holds, loading must not
// crash, must report errors exactly when it gives no policy, and must place
// every message inside the file. For any text that loads, the policy written
// back (to_toml, what `policy save` stores) must load again, with no error
// and no warning the original did not have, into a policy with the same dump;
// writing that one back again gives the same text byte for byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"
#include "control/policy/toml_writer.hpp"

using namespace sluice::policy;

namespace {

[[noreturn]] void fail(const char* what, std::string_view text, const LoadResult& r, std::string_view extra = {}) {
    std::fprintf(stderr, "policy round trip broken: %s\n--- text\n%.*s\n--- diagnostics\n", what,
                 static_cast<int>(text.size()), text.data());
    for (const Diagnostic& d : r.diagnostics) std::fprintf(stderr, "%s\n", format(d).c_str());
    if (!extra.empty()) std::fprintf(stderr, "---\n%.*s\n", static_cast<int>(extra.size()), extra.data());
    std::abort();
}

size_t warnings_in(const LoadResult& r) {
    return static_cast<size_t>(std::count_if(r.diagnostics.begin(), r.diagnostics.end(), [](const Diagnostic& d) {
        return d.severity == Diagnostic::Severity::warning;
    }));
}

void check_diagnostics(std::string_view text, const LoadResult& r) {
    const bool any_error = std::any_of(r.diagnostics.begin(), r.diagnostics.end(), [](const Diagnostic& d) {
        return d.severity == Diagnostic::Severity::error;
    });
    if (any_error == r.ok()) fail("a policy comes back exactly when there is no error", text, r);
    const auto lines = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    for (const Diagnostic& d : r.diagnostics) {
        if (d.line < 1 || d.column < 1 || d.line > lines) fail("a message points outside the file", text, r, format(d));
        if (d.message.empty()) fail("a message says nothing", text, r);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const LoadResult first = load_string(text, "fuzz.toml");
    check_diagnostics(text, first);
    if (!first.ok()) return 0;

    const std::string written = to_toml(*first.policy);
    const LoadResult again = load_string(written, "written.toml");
    check_diagnostics(written, again);
    if (!again.ok()) fail("the written-back policy does not load", text, again, written);
    if (warnings_in(again) > warnings_in(first)) fail("writing back added warnings", text, again, written);

    const std::string before = dump(*first.policy);
    const std::string after = dump(*again.policy);
    if (before != after) fail("the written-back policy dumps differently", text, again, before + "---\n" + after);
    if (to_toml(*again.policy) != written) fail("writing back is not stable", text, again, written);
    return 0;
}
