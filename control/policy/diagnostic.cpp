#include "control/policy/diagnostic.hpp"

#include <algorithm>

namespace sluice::policy {

std::string format(const Diagnostic& d) {
    std::string out = d.file;
    out += ':';
    out += std::to_string(d.line);
    out += ':';
    out += std::to_string(d.column);
    out += d.severity == Diagnostic::Severity::error ? ": error: " : ": warning: ";
    out += d.message;
    return out;
}

void DiagnosticSink::error(Position at, std::string message) {
    ++errors_;
    if (errors_ > kMaxErrors) {
        ++dropped_;
        return;
    }
    add(Diagnostic::Severity::error, at, std::move(message));
}

void DiagnosticSink::warning(Position at, std::string message) {
    // Warnings share the bound so that a pathological file stays bounded too.
    if (kept_.size() >= 2 * kMaxErrors) return;
    add(Diagnostic::Severity::warning, at, std::move(message));
}

void DiagnosticSink::add(Diagnostic::Severity s, Position at, std::string message) {
    kept_.push_back(Diagnostic{s, file_, at.line, at.column, std::move(message)});
}

std::vector<Diagnostic> DiagnosticSink::take() {
    std::stable_sort(kept_.begin(), kept_.end(), [](const Diagnostic& a, const Diagnostic& b) {
        if (a.line != b.line) return a.line < b.line;
        if (a.column != b.column) return a.column < b.column;
        return a.severity < b.severity;
    });
    if (dropped_ > 0) {
        kept_.push_back(Diagnostic{Diagnostic::Severity::error, file_, kept_.back().line, kept_.back().column,
                                   std::to_string(dropped_) + " more errors not shown"});
    }
    return std::move(kept_);
}

}  // namespace sluice::policy
