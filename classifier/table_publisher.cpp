#include "classifier/table_publisher.hpp"

#include <rte_malloc.h>

#include <fmt/format.h>

namespace sluice::classifier {

Result<std::unique_ptr<TablePublisher>> TablePublisher::create(uint32_t max_workers) {
    const size_t size = rte_rcu_qsbr_get_memsize(max_workers);
    auto* v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("sluice_qsbr", size, RTE_CACHE_LINE_SIZE));
    if (v == nullptr) return Error{"cannot allocate the RCU state for the classifier tables"};
    if (rte_rcu_qsbr_init(v, max_workers) != 0) {
        rte_free(v);
        return Error{fmt::format("rte_rcu_qsbr_init failed for {} workers", max_workers)};
    }
    std::unique_ptr<TablePublisher> p(new TablePublisher());
    p->qsbr_ = v;
    return p;
}

TablePublisher::~TablePublisher() { rte_free(qsbr_); }

std::shared_ptr<const ClassifierTables> TablePublisher::publish(std::shared_ptr<const ClassifierTables> next) {
    // Tables already current keep their generation: workers may read it.
    if (next && next != owner_) next->generation_ = ++generation_;
    std::shared_ptr<const ClassifierTables> old = std::move(owner_);
    owner_ = std::move(next);
    current_.store(owner_.get(), std::memory_order_release);
    // Every online worker reports a quiescent state after its current turn;
    // offline workers hold nothing and are not waited for.
    rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
    return old;
}

void TablePublisher::reader_online(unsigned id) {
    rte_rcu_qsbr_thread_register(qsbr_, id);
    rte_rcu_qsbr_thread_online(qsbr_, id);
}

void TablePublisher::reader_offline(unsigned id) {
    rte_rcu_qsbr_thread_offline(qsbr_, id);
    rte_rcu_qsbr_thread_unregister(qsbr_, id);
}

}  // namespace sluice::classifier
