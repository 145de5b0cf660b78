// Publishes ClassifierTables to the workers: one pointer swap, then a grace
// period (DPDK's rte_rcu_qsbr) before the old tables are freed.
//
// Workers never wait: each reads the current pointer once per loop turn and
// reports a quiescent state when it holds no reference any more. The control
// thread's publish() returns only after every online worker has moved on, so
// when it returns the old tables are unused and their counters final.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <memory>

#include "classifier/classifier_tables.hpp"
#include "common/result.hpp"

namespace sluice::classifier {

class TablePublisher {
public:
    static Result<std::unique_ptr<TablePublisher>> create(uint32_t max_workers);
    ~TablePublisher();
    TablePublisher(const TablePublisher&) = delete;
    TablePublisher& operator=(const TablePublisher&) = delete;

    // Control thread: makes `next` current, waits out the grace period, and
    // returns the tables it replaced (null the first time). `next` gets the
    // next generation number (ClassifierTables::generation).
    std::shared_ptr<const ClassifierTables> publish(std::shared_ptr<const ClassifierTables> next);
    std::shared_ptr<const ClassifierTables> current_owned() const { return owner_; }
    // Control thread: returns once every online reader has finished the
    // turn it was in. Other read-mostly state the same workers read once per
    // turn (the management matcher) is retired with this grace period.
    void wait_for_readers() const { rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID); }

    // Worker side. `id` is the worker's index, below max_workers.
    void reader_online(unsigned id);
    void reader_offline(unsigned id);
    const ClassifierTables* current() const { return current_.load(std::memory_order_acquire); }
    void quiescent(unsigned id) { rte_rcu_qsbr_quiescent(qsbr_, id); }
    // Around a sleep: a paused reader holds no reference, so grace periods
    // do not wait for it; it stays registered and resumes where it was.
    void reader_pause(unsigned id) { rte_rcu_qsbr_thread_offline(qsbr_, id); }
    void reader_resume(unsigned id) { rte_rcu_qsbr_thread_online(qsbr_, id); }

private:
    TablePublisher() = default;

    rte_rcu_qsbr* qsbr_ = nullptr;
    std::atomic<const ClassifierTables*> current_{nullptr};
    std::shared_ptr<const ClassifierTables> owner_;
    uint64_t generation_ = 0;
};

}  // namespace sluice::classifier
