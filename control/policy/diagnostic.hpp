// Messages about a policy file, each tied to the place in the file it is
// about, and the collector the loader's passes write them to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::policy {

struct Diagnostic {
    enum class Severity : uint8_t { error, warning };
    Severity severity = Severity::error;
    std::string file;
    uint32_t line = 0;    // 1-based
    uint32_t column = 0;  // 1-based
    std::string message;
};

// "file:line:column: error: message", the form editors and compilers use,
// so an operator's editor can jump to it.
std::string format(const Diagnostic& d);

// A place in the file.
struct Position {
    uint32_t line = 1;
    uint32_t column = 1;
};

// Collects messages from every pass so that one run reports all of them.
// Errors beyond kMaxErrors are counted, not kept: a generated file with one
// systematic mistake should not produce 100,000 lines.
class DiagnosticSink {
public:
    static constexpr size_t kMaxErrors = 1'000;

    explicit DiagnosticSink(std::string file) : file_(std::move(file)) {}

    void error(Position at, std::string message);
    void warning(Position at, std::string message);

    bool has_errors() const { return errors_ > 0; }
    size_t error_count() const { return errors_; }

    // The messages in file order (line, then column, errors before warnings
    // at the same place), with a closing note when some were dropped.
    std::vector<Diagnostic> take();

private:
    void add(Diagnostic::Severity s, Position at, std::string message);

    std::string file_;
    std::vector<Diagnostic> kept_;
    size_t errors_ = 0;
    size_t dropped_ = 0;
};

}  // namespace sluice::policy
