// Resolving a direction's class drafts into the flat class tree.
//
// Steps, each one pass over the classes (so 100,000 classes cost a few
// milliseconds, not a quadratic walk):
//   1. ids in file order (root = 0), duplicate names refused;
//   2. parent names to ids, unknown parents refused with a near name;
//   3. cycles found by walking parent chains with three-colour marking;
//   4. children lists, then a breadth-first order from the root, which puts
//      every parent before its children;
//   5. in that order: depth, percentages, ceil defaults, rate and ceil
//      checks against the parent and the link, the children's assured sum.
// A class with an error is marked broken and its descendants are skipped by
// later checks, so one mistake gives one message, not a cascade.
#include <algorithm>

#include "control/policy/class_tree.hpp"
#include "control/policy/suggest.hpp"
#include "control/policy/toml_reader.hpp"

namespace sluice::policy {

namespace {

// Suggestions scan every name; past this many classes a typo costs too much
// to guess at, and the message says only what is wrong.
constexpr size_t kMaxSuggestScan = 5'000;

std::string at_line(uint32_t line) { return "line " + std::to_string(line); }

uint32_t clamp_u32(uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); }

}  // namespace

std::optional<uint32_t> ClassIndex::find(std::string_view name) const {
    const auto it = by_name.find(name);
    if (it == by_name.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> ClassIndex::suggest(std::string_view name) const {
    if (by_name.size() > kMaxSuggestScan) return std::nullopt;
    std::vector<std::string_view> names;
    names.reserve(by_name.size());
    for (const auto& [n, id] : by_name) names.push_back(n);
    std::sort(names.begin(), names.end());  // the same suggestion on every run
    return nearest(name, names);
}

void resolve_tree(DirectionDraft&& draft, ClassTree& tree, ClassIndex& index, DiagnosticSink& sink) {
    const std::string dir = direction_name(draft.direction);
    const uint64_t link_rate = draft.link_rate.value_or(0);
    tree.link = Link{link_rate, draft.overhead};

    const size_t n = draft.classes.size() + 1;
    tree.classes.clear();
    tree.classes.resize(n);
    Class& root = tree.classes[kRootClass];
    root.name = std::string(kRootName);
    root.id = kRootClass;
    root.rate = root.ceil = link_rate;
    root.burst = clamp_u32(link_rate * kDefaultBurstUs / 1'000'000 + kFullFrame);
    root.cburst = root.burst;
    root.queue.kind = QueueKind::fq_codel;  // a root without classes is one fair queue

    index.tree = &tree;
    index.by_name.clear();
    index.by_name.reserve(n);
    index.by_name.emplace(tree.classes[kRootClass].name, kRootClass);

    // broken[i]: class i or an ancestor has an error; its numbers are not checked.
    std::vector<uint8_t> broken(n, 0);
    broken[kRootClass] = draft.link_rate ? 0 : 1;

    // 1. ids and names.
    for (size_t i = 1; i < n; ++i) {
        ClassDraft& d = draft.classes[i - 1];
        Class& c = tree.classes[i];
        c.id = static_cast<uint32_t>(i);
        c.name = std::move(d.name);
        c.line = d.at.line;
        c.weight = d.weight;
        c.queue = d.queue;
        c.set_dscp = d.set_dscp;
        if (d.priority) c.priority = *d.priority;
        if (d.rate) c.rate_given = *d.rate;
        c.ceil_given = d.ceil;
        c.burst_given = d.burst.has_value();
        c.cburst_given = d.cburst.has_value();
        c.priority_given = d.priority.has_value();
        c.weight_given = d.weight_given;
        if (!d.readable) broken[i] = 1;
        if (c.name.empty() || c.name == kRootName) continue;  // already reported
        const auto [it, fresh] = index.by_name.emplace(c.name, c.id);
        if (!fresh) {
            sink.error(d.name_at, "class " + quoted(c.name) + " is already defined in " + dir + " at " +
                                      at_line(tree.classes[it->second].line) +
                                      "; class names must be unique within a direction");
            broken[i] = 1;
        }
    }

    // 2. parents.
    for (size_t i = 1; i < n; ++i) {
        const ClassDraft& d = draft.classes[i - 1];
        Class& c = tree.classes[i];
        if (d.parent.empty()) {
            c.parent = kRootClass;
            continue;
        }
        if (auto p = index.find(d.parent)) {
            c.parent = *p;
            continue;
        }
        std::string message = "parent " + quoted(d.parent) + " is not a class in " + dir;
        if (auto near = index.suggest(d.parent)) message += "; did you mean " + quoted(*near) + "?";
        sink.error(d.parent_at, std::move(message));
        broken[i] = 1;
    }

    // 3. cycles. state: 0 new, 1 on the current walk, 2 finished.
    std::vector<uint8_t> state(n, 0);
    state[kRootClass] = 2;
    std::vector<uint32_t> walk;
    for (size_t start = 1; start < n; ++start) {
        walk.clear();
        uint32_t cur = static_cast<uint32_t>(start);
        while (state[cur] == 0 && tree.classes[cur].parent != kNoClass) {
            state[cur] = 1;
            walk.push_back(cur);
            cur = tree.classes[cur].parent;
        }
        if (state[cur] == 1) {
            // `cur` is on this walk: the walk from it to the end is a loop.
            const auto loop_begin = std::find(walk.begin(), walk.end(), cur);
            const uint32_t first = *std::min_element(loop_begin, walk.end());
            std::string path;
            uint32_t k = first;
            do {
                path += tree.classes[k].name + " -> ";
                k = tree.classes[k].parent;
            } while (k != first);
            path += tree.classes[first].name;
            sink.error(draft.classes[first - 1].parent_at,
                       "class " + quoted(tree.classes[first].name) + " is its own ancestor (" + path +
                           "); one of these classes must have a parent outside the loop");
            for (auto it = loop_begin; it != walk.end(); ++it) {
                broken[*it] = 1;
                tree.classes[*it].parent = kNoClass;  // cut, so nothing below loops
            }
        }
        for (uint32_t w : walk) state[w] = 2;
    }

    // 4. children in file order; breadth-first order from the root.
    std::vector<uint32_t> child_count(n, 0);
    for (size_t i = 1; i < n; ++i)
        if (tree.classes[i].parent != kNoClass) ++child_count[tree.classes[i].parent];
    for (size_t i = 0; i < n; ++i) tree.classes[i].children.reserve(child_count[i]);
    for (size_t i = 1; i < n; ++i)
        if (tree.classes[i].parent != kNoClass)
            tree.classes[tree.classes[i].parent].children.push_back(static_cast<uint32_t>(i));
    std::vector<uint32_t> order;
    order.reserve(n);
    order.push_back(kRootClass);
    for (size_t head = 0; head < order.size(); ++head)
        for (uint32_t child : tree.classes[order[head]].children) order.push_back(child);

    // 5. numbers, parents before children.
    for (size_t pos = 1; pos < order.size(); ++pos) {
        const uint32_t id = order[pos];
        Class& c = tree.classes[id];
        const Class& parent = tree.classes[c.parent];
        const ClassDraft& d = draft.classes[id - 1];
        c.depth = parent.depth + 1;
        if (broken[c.parent]) broken[id] = 1;
        if (c.depth > kMaxClassDepth && !broken[c.parent]) {
            sink.error(d.at, "class " + quoted(c.name) + " is " + std::to_string(c.depth) +
                                 " levels below the link; the most is " + std::to_string(kMaxClassDepth));
            broken[id] = 1;
        }
        if (broken[id]) continue;

        const std::string parent_phrase =
            c.parent == kRootClass ? "the " + dir + " link" : "parent " + quoted(parent.name);
        c.rate = d.rate->is_share() ? apply_share(parent.rate, d.rate->share_ppm) : d.rate->bytes_per_second;
        if (d.rate->is_share() && c.rate == 0) {
            sink.error(d.rate_at, "rate: this share of " + parent_phrase + " rounds to zero");
            broken[id] = 1;
            continue;
        }
        c.ceil = !d.ceil ? parent.ceil
                 : d.ceil->is_share() ? apply_share(parent.ceil, d.ceil->share_ppm)
                                      : d.ceil->bytes_per_second;
        bool good = true;
        if (c.rate > link_rate) {
            sink.error(d.rate_at, "rate " + format_rate(c.rate) + " is above the " + dir + " link rate " +
                                      format_rate(link_rate) + "; a class cannot be assured more than the link");
            good = false;
        } else if (c.ceil > link_rate) {
            sink.error(d.ceil_at, "ceil " + format_rate(c.ceil) + " is above the " + dir + " link rate " +
                                      format_rate(link_rate) + "; write at most " + format_rate(link_rate));
            good = false;
        } else if (c.ceil > parent.ceil) {
            sink.error(d.ceil_at, "ceil " + format_rate(c.ceil) + " is above the ceil " + format_rate(parent.ceil) +
                                      " of " + parent_phrase + "; a class cannot borrow more than its parent may use");
            good = false;
        }
        if (good && c.ceil < c.rate) {
            sink.error(d.ceil ? d.ceil_at : d.rate_at,
                       "ceil " + format_rate(c.ceil) + " is below rate " + format_rate(c.rate) +
                           "; ceil must be at least the rate (leave ceil out to borrow up to the parent's)");
            good = false;
        }
        if (!good) {
            broken[id] = 1;
            continue;
        }
        c.burst = d.burst ? static_cast<uint32_t>(*d.burst) : clamp_u32(c.rate * kDefaultBurstUs / 1'000'000 + kFullFrame);
        c.cburst = d.cburst ? static_cast<uint32_t>(*d.cburst) : clamp_u32(c.ceil * kDefaultBurstUs / 1'000'000 + kFullFrame);
    }

    // Children's assured rates must fit in the parent's: HTB's guarantee is
    // only a guarantee if the parent can pay all of them at once.
    for (size_t pos = 0; pos < order.size(); ++pos) {
        const uint32_t id = order[pos];
        const Class& c = tree.classes[id];
        if (broken[id] || c.children.empty()) continue;
        uint64_t sum = 0;
        bool over = false;
        for (uint32_t child : c.children) {
            if (broken[child]) continue;
            sum += tree.classes[child].rate;
            over = over || sum > c.rate;
        }
        if (over) {
            // Said of the whole sum, at the parent's rate: the one number
            // all the children's must fit in.
            const std::string whose = id == kRootClass ? "the " + dir + " link" : quoted(c.name);
            sink.error(id == kRootClass ? draft.link_rate_at : draft.classes[id - 1].rate_at,
                       "the children of " + whose + " are assured " + format_rate(sum) + ", more than its rate " +
                           format_rate(c.rate) + "; lower their rates or raise the parent's");
        }
    }

    // Keys that a class with children never uses: say so rather than ignore.
    for (size_t i = 1; i < n; ++i) {
        const Class& c = tree.classes[i];
        const ClassDraft& d = draft.classes[i - 1];
        if (c.children.empty()) continue;
        if (d.priority)
            sink.warning(d.priority_at, "priority of " + quoted(c.name) +
                                            " has no effect: it has child classes, and priorities apply to leaves");
        if (d.queue_keys_at)
            sink.warning(*d.queue_keys_at, "queue settings of " + quoted(c.name) +
                                               " have no effect: it has child classes, and only leaves hold queues");
    }

    // The default class: where unmatched packets go.
    if (draft.default_class) {
        if (auto id = index.find(*draft.default_class)) {
            if (!tree.classes[*id].is_leaf()) {
                sink.error(draft.default_at, "default_class " + quoted(*draft.default_class) +
                                                 " has child classes; name a leaf class, which holds a queue");
            } else {
                tree.default_class = *id;
            }
        } else {
            std::string message = "default_class " + quoted(*draft.default_class) + " is not a class in " + dir;
            if (auto near = index.suggest(*draft.default_class)) message += "; did you mean " + quoted(*near) + "?";
            sink.error(draft.default_at, std::move(message));
        }
    } else if (n > 1) {
        sink.error(draft.at, "[" + dir + "] has classes but no default_class; add default_class = \"<leaf class>\" "
                             "for packets no rule matches");
    }
}

}  // namespace sluice::policy
