// See rate_share.hpp for the algorithm; this file is its arithmetic.
#include "shaper/rate_share.hpp"

#include <algorithm>
#include <numeric>
#include <string>

namespace sluice::shaper {

namespace {

// Max-min fair shares of `capacity` for demands `want` with weights `weight`
// (over n entries): every entry gets min(want, weight x level), the level
// as high as the capacity allows. Adds them to `out`; returns the total.
double water_fill(const double* want, const double* weight, uint32_t n, double capacity, double* out,
                  uint32_t* order) {
    double total = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (want[i] <= 0) continue;
        total += want[i];
        order[k++] = i;
    }
    if (total <= capacity) {
        for (uint32_t j = 0; j < k; ++j) out[order[j]] += want[order[j]];
        return total;
    }
    // Fill the smallest (per unit of weight) first; once one cannot be
    // met, the rest share what is left by weight.
    std::sort(order, order + k,
              [&](uint32_t a, uint32_t b) { return want[a] * weight[b] < want[b] * weight[a]; });
    double weights = 0;
    for (uint32_t j = 0; j < k; ++j) weights += weight[order[j]];
    double left = capacity;
    for (uint32_t j = 0; j < k; ++j) {
        const uint32_t i = order[j];
        if (want[i] * weights <= left * weight[i]) {
            out[i] += want[i];
            left -= want[i];
            weights -= weight[i];
            continue;
        }
        const double level = left / weights;
        for (uint32_t r = j; r < k; ++r) out[order[r]] += weight[order[r]] * level;
        return capacity;
    }
    return capacity - left;
}

}  // namespace

RateShare::RateShare(const RateShareConfig& config, uint32_t workers)
    : config_(config), workers_(std::max<uint32_t>(workers, 1)) {
    if (config_.tick_hz == 0) config_.tick_hz = 1;
    if (config_.drain_us == 0) config_.drain_us = 1;
    config_.floor_fraction = std::clamp(config_.floor_fraction, 0.0, 0.5);
}

int RateShare::class_index(uint32_t id) const {
    for (size_t k = 0; k < classes_.size(); ++k)
        if (classes_[k].cls.id == id) return static_cast<int>(k);
    return -1;
}

static Status check_shared(const SharedClass& c, uint32_t workers) {
    const uint64_t ceil = c.ceil ? c.ceil : c.rate;
    if (c.rate < uint64_t{workers} * Scheduler::kMinRate)
        return Status::failure("shared class " + std::to_string(c.id) + ": rate " + std::to_string(c.rate) +
                               " bytes/s cannot give each of " + std::to_string(workers) +
                               " workers the least rate a class may have (" +
                               std::to_string(Scheduler::kMinRate) + " bytes/s)");
    if (ceil < c.rate)
        return Status::failure("shared class " + std::to_string(c.id) + ": ceil is below rate");
    return Status::success();
}

Status RateShare::add_class(const SharedClass& c) {
    if (class_index(c.id) >= 0) return Status::failure("shared class " + std::to_string(c.id) + " already added");
    if (Status s = check_shared(c, workers_); !s) return s;
    ClassEntry e;
    e.cls = c;
    if (!e.cls.ceil) e.cls.ceil = c.rate;
    e.rate.assign(workers_, e.cls.rate / workers_);
    e.ceil.assign(workers_, e.cls.ceil / workers_);
    e.rate[0] += e.cls.rate % workers_;
    e.ceil[0] += e.cls.ceil % workers_;
    classes_.push_back(std::move(e));
    indexed_ = false;
    return Status::success();
}

Status RateShare::set_class(const SharedClass& c) {
    const int k = class_index(c.id);
    if (k < 0) return Status::failure("shared class " + std::to_string(c.id) + " does not exist");
    if (Status s = check_shared(c, workers_); !s) return s;
    classes_[static_cast<size_t>(k)].cls = c;
    if (!c.ceil) classes_[static_cast<size_t>(k)].cls.ceil = c.rate;
    classes_[static_cast<size_t>(k)].idle_split = false;
    return Status::success();
}

Status RateShare::add_member(const ShareMember& m) {
    const int k = class_index(m.shared_id);
    if (k < 0) return Status::failure("member " + std::to_string(m.leaf_id) + ": shared class " +
                                      std::to_string(m.shared_id) + " does not exist");
    if (m.worker >= workers_)
        return Status::failure("member " + std::to_string(m.leaf_id) + ": worker " + std::to_string(m.worker) +
                               " out of range (0.." + std::to_string(workers_ - 1) + ")");
    if (m.prio >= kPrioCount) return Status::failure("member " + std::to_string(m.leaf_id) + ": prio must be 0..7");
    MemberEntry e;
    e.m = m;
    e.m.weight = std::max<uint32_t>(m.weight, 1);
    e.cls = static_cast<uint32_t>(k);
    members_.push_back(e);
    indexed_ = false;
    return Status::success();
}

// Numbers each worker's cells (the (class, band) pairs it has members in)
// and builds its sampler, and sizes the scratch, so that steps allocate
// nothing. Every worker's reading starts over: its first sum only sets the
// baseline.
void RateShare::index_members() {
    const size_t nk = classes_.size();
    cell_first_.assign(workers_ + 1, 0);
    cell_class_.clear();
    cell_band_.clear();
    std::vector<std::vector<SampledLeaf>> leaves(workers_);
    std::vector<int32_t> cell_of(nk * kPrioCount);
    for (uint32_t w = 0; w < workers_; ++w) {
        std::fill(cell_of.begin(), cell_of.end(), -1);
        const uint32_t first = static_cast<uint32_t>(cell_class_.size());
        cell_first_[w] = first;
        for (const MemberEntry& e : members_) {
            if (e.m.worker != w) continue;
            int32_t& c = cell_of[static_cast<size_t>(e.cls) * kPrioCount + e.m.prio];
            if (c < 0) {
                c = static_cast<int32_t>(cell_class_.size() - first);
                cell_class_.push_back(e.cls);
                cell_band_.push_back(e.m.prio);
            }
            leaves[w].push_back({e.m.leaf_id, static_cast<uint32_t>(c), e.m.rate, e.m.ceil, e.m.weight});
        }
    }
    cell_first_[workers_] = static_cast<uint32_t>(cell_class_.size());
    samplers_.clear();
    samplers_.reserve(workers_);
    for (uint32_t w = 0; w < workers_; ++w)
        samplers_.emplace_back(std::move(leaves[w]), cell_first_[w + 1] - cell_first_[w], config_.tick_hz,
                               config_.drain_us);
    received_.assign(cell_class_.size(), DemandCell{});
    last_departed_.assign(cell_class_.size(), 0);
    balance_.resize(nk * workers_, 0.0);  // kept for the classes there were
    used_.assign(nk * workers_, 0.0);
    queued_.assign(nk * workers_, 0.0);
    sent_now_.assign(nk * workers_, 0);
    band_.resize(nk * workers_, kPrioCount - 1);
    const size_t cells = nk * workers_ * kPrioCount;
    demand_.assign(cells, 0);
    assured_.assign(cells, 0);
    weight_.assign(cells, 0);
    alloc_.assign(workers_, 0);
    excess_.assign(workers_, 0);
    band_w_.assign(workers_, 0);
    sorted_.assign(workers_, 0);
    new_rate_.assign(workers_, 0);
    new_ceil_.assign(workers_, 0);
    changes_.clear();
    changes_.reserve(nk * workers_);
    indexed_ = true;
}

std::span<LeafSample> RateShare::samples_of(uint32_t w) {
    prepare();
    if (w >= workers_) return {};
    return samplers_[w].samples();
}

std::span<const uint32_t> RateShare::members_of(uint32_t w) {
    prepare();
    if (w >= workers_) return {};
    return samplers_[w].leaf_ids();
}

std::span<DemandCell> RateShare::cells_of(uint32_t w) {
    prepare();
    if (w >= workers_) return {};
    return {received_.data() + cell_first_[w], cell_first_[w + 1] - cell_first_[w]};
}

void RateShare::read(uint32_t w, const Scheduler& s) {
    prepare();
    if (w < workers_) samplers_[w].read(s);
}

void RateShare::gather() {
    std::fill(demand_.begin(), demand_.end(), 0.0);
    std::fill(assured_.begin(), assured_.end(), 0.0);
    std::fill(weight_.begin(), weight_.end(), 0.0);
    std::fill(used_.begin(), used_.end(), 0.0);
    std::fill(queued_.begin(), queued_.end(), 0.0);
    std::fill(sent_now_.begin(), sent_now_.end(), 0);
    for (uint32_t w = 0; w < workers_; ++w) {
        for (uint32_t j = cell_first_[w]; j < cell_first_[w + 1]; ++j) {
            const DemandCell& x = received_[j];
            const uint32_t p = cell_band_[j];
            const size_t kw = static_cast<size_t>(cell_class_[j]) * workers_ + w;
            queued_[kw] += static_cast<double>(x.backlog);
            // departed only grows; a sampler started over (a new index)
            // reads as nothing sent for one step.
            const uint64_t sent = x.departed >= last_departed_[j] ? x.departed - last_departed_[j] : 0;
            last_departed_[j] = x.departed;
            used_[kw] += static_cast<double>(sent);
            if (sent > 0 && (!sent_now_[kw] || p < band_[kw])) band_[kw] = static_cast<uint8_t>(p);
            sent_now_[kw] |= sent > 0;
            if (x.demand <= 0) continue;
            const size_t cell = kw * kPrioCount + p;
            demand_[cell] += x.demand;
            assured_[cell] += x.assured;
            weight_[cell] += x.weight;
        }
    }
}

// Brings each copy's balance of class k to the end of the period just gone
// (given at the rate it had, less what its worker sent), capped as its
// bucket is. A debt of a worker with nothing queued below the class is
// traffic its leaves sent past an empty local bucket (on their own assured
// rates, or a demand the last division cut short): it is added to the
// worker's demand in the band it last sent in, so it is paid for at the
// next steps, but only as far as that band's fair share goes (a debt
// served ahead of others' fair shares would let the worker keep sending
// past its share, and never queue, for ever). A worker with a queue pays
// its debt from its own bucket: the queue waits until it is repaid. A
// credit is taken off the worker's demand, band 0 first.
void RateShare::settle(uint32_t k, double elapsed_s) {
    const ClassEntry& c = classes_[k];
    for (uint32_t w = 0; w < workers_; ++w) {
        double& b = balance_[static_cast<size_t>(k) * workers_ + w];
        const double rate = static_cast<double>(c.rate[w]);
        const double size = rate * config_.burst_us * 1e-6 + config_.mtu;
        // A debt older than a few periods is not repaid: a policy whose
        // assured rates exceed the class cannot be made whole, and a debt
        // kept forever would starve the others.
        const double deepest = -static_cast<double>(c.cls.rate) * elapsed_s * 8;
        b = std::clamp(b + rate * elapsed_s - used_[static_cast<size_t>(k) * workers_ + w], deepest, size);
        const double debt = b < 0 ? -b / elapsed_s : 0;
        // A worker with a queue spends what its bucket holds at once.
        double credit = b > 0 && queued_[static_cast<size_t>(k) * workers_ + w] == 0 ? b / elapsed_s : 0;
        const size_t cell = (static_cast<size_t>(k) * workers_ + w) * kPrioCount;
        double* d = &demand_[cell];
        if (debt > 0 && queued_[static_cast<size_t>(k) * workers_ + w] == 0) {
            const uint8_t p = band_[static_cast<size_t>(k) * workers_ + w];
            d[p] += debt;
            weight_[cell + p] = std::max(weight_[cell + p], 1.0);
        }
        for (uint32_t p = 0; p < kPrioCount && credit > 0; ++p) {
            const double x = std::min(d[p], credit);
            d[p] -= x;
            credit -= x;
        }
    }
}

void RateShare::divide(uint32_t k, uint64_t capacity, std::vector<uint64_t>& out) {
    const uint32_t n = workers_;
    const uint64_t floor = std::max<uint64_t>(
        Scheduler::kMinRate, static_cast<uint64_t>(static_cast<double>(capacity) * config_.floor_fraction / n));
    const double pool = static_cast<double>(capacity - floor * n);
    const double* d = &demand_[static_cast<size_t>(k) * n * kPrioCount];
    const double* a = &assured_[static_cast<size_t>(k) * n * kPrioCount];
    const double* wt = &weight_[static_cast<size_t>(k) * n * kPrioCount];
    std::fill(alloc_.begin(), alloc_.end(), 0.0);
    double left = pool;

    // 1. Demand up to the assured rates, in every band: HTB sends a leaf's
    //    own rate whatever its priority, and whatever its ancestors' tokens,
    //    so a worker's copy must cover what its leaves send on their own.
    double assured = 0;
    for (uint32_t i = 0; i < n * kPrioCount; ++i) assured += std::min(d[i], a[i]);
    const double scale = assured > left ? left / assured : 1.0;
    for (uint32_t w = 0; w < n; ++w)
        for (uint32_t p = 0; p < kPrioCount; ++p) alloc_[w] += std::min(d[w * kPrioCount + p], a[w * kPrioCount + p]) * scale;
    left = std::max(left - assured * scale, 0.0);

    // 2. The rest of the demand by priority, band 0 first; within a band,
    //    max-min fair by weight across workers.
    for (uint32_t p = 0; p < kPrioCount && left > 0; ++p) {
        for (uint32_t w = 0; w < n; ++w) {
            const uint32_t i = w * kPrioCount + p;
            excess_[w] = d[i] - std::min(d[i], a[i]) * scale;
            band_w_[w] = std::max(wt[i], 1.0);
        }
        left = std::max(left - water_fill(excess_.data(), band_w_.data(), n, left, alloc_.data(), sorted_.data()), 0.0);
    }

    // 3. What no one asked for, in proportion to demand (a worker that is
    //    growing can use it; an idle one gets none), or equally.
    if (left > 0) {
        double total = 0;
        for (uint32_t w = 0; w < n; ++w) {
            excess_[w] = 0;
            for (uint32_t p = 0; p < kPrioCount; ++p) excess_[w] += d[w * kPrioCount + p];
            total += excess_[w];
        }
        for (uint32_t w = 0; w < n; ++w) alloc_[w] += total > 0 ? left * excess_[w] / total : left / n;
    }

    // Whole bytes per second, rounded down; the few left over go to the
    // largest share, so the copies sum to exactly the capacity.
    uint64_t sum = 0;
    uint32_t largest = 0;
    for (uint32_t w = 0; w < n; ++w) {
        out[w] = floor + static_cast<uint64_t>(std::max(alloc_[w], 0.0));
        sum += out[w];
        if (alloc_[w] > alloc_[largest]) largest = w;
    }
    if (sum <= capacity) {
        out[largest] += capacity - sum;
        return;
    }
    // Rounding cannot add, but floating point may: take it back from the largest.
    uint64_t over = sum - capacity;
    for (uint32_t w = 0; w < n && over; ++w) {
        const uint64_t x = std::min(over, out[w] - floor);
        out[w] -= x;
        over -= x;
    }
}

bool RateShare::moved(uint32_t k) const {
    const ClassEntry& c = classes_[k];
    const uint64_t rate_step = std::max<uint64_t>(c.cls.rate / 4096, Scheduler::kMinRate);
    const uint64_t ceil_step = std::max<uint64_t>(c.cls.ceil / 4096, Scheduler::kMinRate);
    for (uint32_t w = 0; w < workers_; ++w) {
        const uint64_t dr = new_rate_[w] > c.rate[w] ? new_rate_[w] - c.rate[w] : c.rate[w] - new_rate_[w];
        const uint64_t dc = new_ceil_[w] > c.ceil[w] ? new_ceil_[w] - c.ceil[w] : c.ceil[w] - new_ceil_[w];
        if (dr > rate_step || dc > ceil_step) return true;
    }
    return false;
}

void RateShare::emit(uint32_t k, const std::vector<uint64_t>& rate, const std::vector<uint64_t>& ceil) {
    ClassEntry& c = classes_[k];
    for (uint32_t w = 0; w < workers_; ++w) {
        if (!resend_ && rate[w] == c.rate[w] && ceil[w] == c.ceil[w]) continue;
        c.rate[w] = rate[w];
        c.ceil[w] = ceil[w];
        ModifyClass m;
        m.id = c.cls.id;
        m.rate = rate[w];
        m.ceil = ceil[w];
        changes_.push_back({w, m});
    }
}

std::span<const LocalChange> RateShare::initial_split() {
    prepare();
    changes_.clear();
    for (uint32_t k = 0; k < classes_.size(); ++k) {
        const SharedClass& c = classes_[k].cls;
        for (uint32_t w = 0; w < workers_; ++w) {
            new_rate_[w] = c.rate / workers_ + (w == 0 ? c.rate % workers_ : 0);
            new_ceil_[w] = c.ceil / workers_ + (w == 0 ? c.ceil % workers_ : 0);
        }
        std::fill(classes_[k].rate.begin(), classes_[k].rate.end(), 0);  // emit all
        emit(k, new_rate_, new_ceil_);
    }
    return changes_;
}

std::span<const LocalChange> RateShare::step(uint64_t now) {
    prepare();
    for (uint32_t w = 0; w < workers_; ++w) {
        samplers_[w].sum(now);
        take_sums(w);
    }
    return step_summed(now);
}

void RateShare::take_sums(uint32_t w) {
    prepare();
    if (w >= workers_) return;
    const auto cells = samplers_[w].cells();
    std::copy(cells.begin(), cells.end(), received_.begin() + cell_first_[w]);
}

std::span<const LocalChange> RateShare::step_summed(uint64_t now) {
    prepare();
    changes_.clear();
    const uint64_t elapsed = stepped_ && now > last_step_ ? now - last_step_ : 1;
    last_step_ = now;
    stepped_ = true;
    const double elapsed_s = static_cast<double>(elapsed) / static_cast<double>(config_.tick_hz);
    gather();
    for (uint32_t k = 0; k < classes_.size(); ++k) {
        const SharedClass& c = classes_[k].cls;
        settle(k, elapsed_s);
        // With no demand anywhere the division depends on the capacity
        // alone: a class that was idle at its last division keeps it.
        const double* d = &demand_[static_cast<size_t>(k) * workers_ * kPrioCount];
        const bool idle = std::all_of(d, d + workers_ * kPrioCount, [](double x) { return x <= 0; });
        if (idle && classes_[k].idle_split && !resend_) continue;
        classes_[k].idle_split = idle;
        divide(k, c.rate, new_rate_);
        divide(k, c.ceil, new_ceil_);
        // The ceil is divided with more capacity and the same demand, so
        // each copy's is already at least its rate but for rounding; lift
        // those and take the difference from copies with room to spare.
        uint64_t over = 0;
        for (uint32_t w = 0; w < workers_; ++w) {
            if (new_ceil_[w] < new_rate_[w]) {
                over += new_rate_[w] - new_ceil_[w];
                new_ceil_[w] = new_rate_[w];
            }
        }
        for (uint32_t w = 0; w < workers_ && over; ++w) {
            const uint64_t x = std::min(over, new_ceil_[w] - new_rate_[w]);
            new_ceil_[w] -= x;
            over -= x;
        }
        // A division within 1/4096 of the class of the one in force is not
        // sent: applying it costs each worker more than it changes. Kept or
        // sent whole, a class's copies sum to exactly its rate and ceil.
        if (!resend_ && !moved(k)) continue;
        emit(k, new_rate_, new_ceil_);
    }
    resend_ = false;
    return changes_;
}

uint64_t RateShare::local_rate(uint32_t id, uint32_t w) const {
    const int k = class_index(id);
    return k < 0 || w >= workers_ ? 0 : classes_[static_cast<size_t>(k)].rate[w];
}

uint64_t RateShare::local_ceil(uint32_t id, uint32_t w) const {
    const int k = class_index(id);
    return k < 0 || w >= workers_ ? 0 : classes_[static_cast<size_t>(k)].ceil[w];
}

}  // namespace sluice::shaper
