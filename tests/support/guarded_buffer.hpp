// A buffer whose last byte sits right before an inaccessible page: reading
// even one byte past it faults, so a parser that overreads crashes the test
// instead of silently reading neighbouring memory.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace sluice::test {

class GuardedBuffer {
public:
    GuardedBuffer() {
        page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        base_ = static_cast<uint8_t*>(p);
        if (mprotect(base_ + page_, page_, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
    }
    ~GuardedBuffer() { munmap(base_, 2 * page_); }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;

    // Places the first n bytes of `bytes` so that they end at the guard page.
    const uint8_t* place(const std::vector<uint8_t>& bytes, size_t n) {
        if (n > page_) throw std::runtime_error("frame larger than a page");
        uint8_t* at = base_ + page_ - n;
        if (n) std::memcpy(at, bytes.data(), n);
        return at;
    }

private:
    uint8_t* base_ = nullptr;
    size_t page_ = 0;
};

}  // namespace sluice::test
