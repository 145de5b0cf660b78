#include "control/policy/toml_errors.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace sluice::policy {

namespace {

// ---- rows about toml++'s description
//
// A row fits when the description holds both `has` and `and_has`. {name} in
// the message is the key or table toml++ quotes ('rate').

enum class Point : uint8_t { toml, key };

struct WordsRow {
    std::string_view has;
    std::string_view and_has;
    Point at;
    std::string_view message;
};

constexpr std::array kParserWords{
    WordsRow{"parsing string: encountered end-of-file", "", Point::toml,
             "missing closing quote: a string ends with \" on the line it starts on"},
    WordsRow{"parsing string: unescaped control characters", "", Point::toml,
             "missing closing quote: a string ends with \" on the line it starts on"},
    WordsRow{"parsing literal string: encountered end-of-file", "", Point::toml,
             "missing closing quote: a string ends with ' on the line it starts on"},
    WordsRow{"parsing literal string: control characters", "", Point::toml,
             "missing closing quote: a string ends with ' on the line it starts on"},
    WordsRow{"parsing array: encountered end-of-file", "", Point::toml,
             "missing closing ]: a list such as [22, 443] ends with ]"},
    WordsRow{"parsing array: expected comma or closing ']'", "", Point::toml,
             "missing closing ] or a comma: a list such as [22, 443] separates its items with commas and ends with ]"},
    WordsRow{"parsing inline table: encountered end-of-file", "", Point::toml,
             "missing closing }: an inline table such as { bytes = 8, mpu = 64 } ends with } on the line it starts on"},
    WordsRow{"parsing inline table: expected key or closing '}'", "", Point::toml,
             "missing closing }: an inline table such as { bytes = 8, mpu = 64 } ends with } on the line it starts on"},
    WordsRow{"parsing table header: expected ']'", "", Point::toml,
             "table header not closed: write it on one line as [name] or [[name]], with no spaces in the name"},
    WordsRow{"parsing table header: encountered end-of-file", "", Point::toml,
             "table header not closed: write it on one line as [name] or [[name]], with no spaces in the name"},
    WordsRow{"parsing table header: expected a comment or whitespace", "", Point::toml,
             "unexpected text after the table header; start a comment with #"},
    WordsRow{"parsing key-value pair: expected '='", "", Point::toml,
             "missing = after the key: write key = value, e.g. rate = \"10mbit\""},
    WordsRow{"parsing key-value pair: encountered end-of-file", "", Point::toml,
             "the file ends before this key = value is complete"},
    WordsRow{"parsing key-value pair: expected a comment or whitespace", "", Point::toml,
             "unexpected text after the value: write one key = value per line, and start a comment with #"},
    WordsRow{"table header: cannot redefine existing array", "as table", Point::toml,
             "[{name}] is already a list of tables; write [[{name}]] to add another entry"},
    WordsRow{"table header: cannot redefine existing table", "as array-of-tables", Point::toml,
             "[[{name}]] clashes with the table [{name}] above; use [[{name}]] for every entry, or [{name}] once"},
    WordsRow{"table header: cannot redefine existing table", "", Point::toml,
             "duplicate table [{name}]: it is already defined above; put all its keys under one header"},
    WordsRow{"table header: cannot redefine existing", "", Point::toml,
             "[{name}] clashes with the key \"{name}\" set above; a key cannot also be a table"},
    WordsRow{"key-value pair: cannot redefine existing", "", Point::key,
             "duplicate key \"{name}\": it is already set above in this table; keep one"},
    WordsRow{"key-value pair: expected value", "", Point::toml,
             "missing value after =; write the value on the same line, e.g. rate = \"10mbit\""},
    WordsRow{"parsing value: could not determine value type", "", Point::toml,
             "not a value: write text and quantities in quotes (\"10mbit\"), numbers bare (3), true or false, or a "
             "list such as [22, 443]"},
    WordsRow{"parsing key: expected bare key starting character", "", Point::toml,
             "missing key: a key is a word such as rate or default_class (letters, digits, _ and -), with at most one "
             "dot between words"},
    WordsRow{"parsing root table: expected keys, tables", "", Point::toml,
             "unexpected text: a line holds key = value, a [table] or [[table]] header, or a # comment"},
    WordsRow{"parsing date", "", Point::toml,
             "TOML reads this as a date, which no policy key takes; write port ranges and other text in quotes, e.g. "
             "dst_port = \"1000-2000\""},
    WordsRow{"parsing time", "", Point::toml,
             "TOML reads this as a time of day, which no policy key takes; write times and text in quotes, e.g. "
             "target = \"5ms\""},
    WordsRow{"underscores may only follow digits", "", Point::toml,
             "misplaced _ in a number: write it only between two digits (1_000), or write the number without it"},
    WordsRow{"leading zeroes are prohibited", "", Point::toml,
             "a number may not start with 0 (0123): write 123, or \"0123\" in quotes for text"},
    WordsRow{"parsing floating-point: expected decimal digit", "", Point::toml,
             "a number with a point needs digits on both sides of it: 0.5, 5.0"},
    WordsRow{"integer: expected digit", "", Point::toml,
             "not a number: after 0x, 0o or 0b come only hexadecimal, octal or binary digits; write numbers in "
             "decimal, e.g. 46"},
    WordsRow{"unknown escape sequence", "", Point::toml,
             "unknown escape in a string: inside \"...\" a backslash starts \\\\, \\\", \\n, \\t or \\uXXXX; write \\\\ for "
             "a backslash, or use '...' where backslashes are plain"},
};

// ---- rows about the value the parser stopped in
//
// A row fits when its test accepts the whole value. {value} is the value as
// written, {example} the line as it should be: key = "value".

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// 5060-5061
bool is_port_range(std::string_view v) {
    const size_t dash = v.find('-');
    return dash != std::string_view::npos && all_digits(trim(v.substr(0, dash))) &&
           all_digits(trim(v.substr(dash + 1)));
}

// 10mbit, 1.5 gbit, 64kb, 5ms, 30%
bool is_quantity(std::string_view v) {
    size_t i = 0;
    while (i < v.size() && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.')) ++i;
    if (i == 0 || !all_digits(v.substr(0, 1))) return false;
    const std::string_view unit = trim(v.substr(i));
    return !unit.empty() && std::all_of(unit.begin(), unit.end(), [](char c) {
        return std::isalpha(static_cast<unsigned char>(c)) || c == '%';
    });
}

// 10.0.0.0/8, 192.168.1.1, fd00::1, 2001:db8::/32
bool is_address(std::string_view v) {
    const auto dots = std::count(v.begin(), v.end(), '.');
    const auto colons = std::count(v.begin(), v.end(), ':');
    return (dots >= 2 || colons >= 2) && std::all_of(v.begin(), v.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '/';
    });
}

// True, FALSE
bool is_capital_boolean(std::string_view v) {
    std::string lower(v);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return (lower == "true" || lower == "false") && v != "true" && v != "false";
}

// voice, EF, fq_codel, pppoe-ethernet
bool is_word(std::string_view v) {
    return !v.empty() && std::isalpha(static_cast<unsigned char>(v.front())) &&
           std::all_of(v.begin(), v.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
           });
}

struct ValueRow {
    bool (*fits)(std::string_view value);
    std::string_view message;
};

constexpr std::array kValueShapes{
    ValueRow{is_port_range, "unquoted port range {value}; write a port range as a string, e.g. {example}"},
    ValueRow{is_quantity, "unquoted {value}; write rates, sizes, times and shares as strings, e.g. {example}"},
    ValueRow{is_address, "unquoted address {value}; write addresses and prefixes as strings, e.g. {example}"},
    ValueRow{is_capital_boolean, "{value} is not a boolean; TOML's are lowercase: true or false"},
    ValueRow{is_word, "unquoted text {value}; write names and other words as strings, e.g. {example}"},
};

// ---- the place of the error

// The line `number` (1-based) of `text`, without its end.
std::string_view line_of(std::string_view text, uint32_t number) {
    for (uint32_t n = 1; n < number; ++n) {
        const size_t end = text.find('\n');
        if (end == std::string_view::npos) return {};
        text.remove_prefix(end + 1);
    }
    text = text.substr(0, text.find('\n'));
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    return text;
}

// toml++ counts columns in characters; these count bytes of UTF-8.
size_t byte_of_column(std::string_view line, uint32_t column) {
    size_t i = 0;
    for (uint32_t c = 1; c < column && i < line.size(); ++c) {
        ++i;
        while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) ++i;
    }
    return i;
}

uint32_t column_of_byte(std::string_view line, size_t byte) {
    uint32_t column = 1;
    for (size_t i = 0; i < byte && i < line.size(); ++i)
        if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++column;
    return column;
}

// The value the parser stopped in: from the last `=`, `[`, `{` or `,` before
// the error to the first `,`, `]`, `}` or `#` from it, on the error's line.
struct Value {
    std::string_view text;
    size_t start = 0;      // byte in the line
    std::string_view key;  // when the value follows "key ="
};

Value value_at(std::string_view line, size_t at) {
    size_t begin = std::min(at, line.size());
    while (begin > 0 && std::string_view("=[{,").find(line[begin - 1]) == std::string_view::npos) --begin;
    size_t end = std::min(at, line.size());
    while (end < line.size() && std::string_view(",]}#").find(line[end]) == std::string_view::npos) ++end;
    Value v;
    // Only text after a delimiter is a value: at the start of a line it is a
    // key, and on a line that starts with "[" a table's name.
    if (begin == 0 || trim(line).starts_with('[')) return v;
    const std::string_view raw = line.substr(begin, end - begin);
    v.text = trim(raw);
    v.start = begin + static_cast<size_t>(raw.find_first_not_of(" \t") == std::string_view::npos
                                              ? 0
                                              : raw.find_first_not_of(" \t"));
    if (begin > 0 && line[begin - 1] == '=') v.key = trim(line.substr(0, begin - 1));
    return v;
}

// The first 'quoted' name in toml++'s description.
std::string_view quoted_name(std::string_view description) {
    const size_t open = description.find('\'');
    if (open == std::string_view::npos) return {};
    const size_t close = description.find('\'', open + 1);
    if (close == std::string_view::npos) return {};
    return description.substr(open + 1, close - open - 1);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
}

}  // namespace

TomlErrorText explain_toml_error(std::string_view text, Position at, std::string_view description) {
    const std::string_view line = line_of(text, at.line);
    const size_t byte = byte_of_column(line, at.column);

    // A redefinition or a table header is not about a value, even when the
    // text after "=" looks like one.
    const bool about_value = description.find("cannot redefine") == std::string_view::npos &&
                             description.find("table header") == std::string_view::npos;
    const Value value = about_value ? value_at(line, byte) : Value{};
    for (const ValueRow& row : kValueShapes) {
        if (value.text.empty() || !row.fits(value.text)) continue;
        std::string example;
        for (char c : value.text)
            if (!std::isspace(static_cast<unsigned char>(c))) example += c;
        example = "\"" + example + "\"";
        if (!value.key.empty()) example = std::string(value.key) + " = " + example;
        std::string message(row.message);
        replace_all(message, "{value}", value.text);
        replace_all(message, "{example}", example);
        return {Position{at.line, column_of_byte(line, value.start)}, std::move(message)};
    }

    for (const WordsRow& row : kParserWords) {
        if (description.find(row.has) == std::string_view::npos) continue;
        if (!row.and_has.empty() && description.find(row.and_has) == std::string_view::npos) continue;
        std::string message(row.message);
        replace_all(message, "{name}", quoted_name(description));
        Position where = at;
        if (row.at == Point::key) {
            const size_t first = line.find_first_not_of(" \t");
            if (first != std::string_view::npos) where.column = column_of_byte(line, first);
        }
        return {where, std::move(message)};
    }

    return {at, "invalid TOML: " + std::string(description)};
}

}  // namespace sluice::policy
