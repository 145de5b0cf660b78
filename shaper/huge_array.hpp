// An allocator for the scheduler's big flat arrays.
//
// With 100,000 classes the per-class arrays span tens of megabytes and every
// packet lands on a random class: with 4 KiB pages nearly every access also
// misses the TLB. Allocations of 2 MiB and more are therefore aligned to 2 MiB
// and marked for transparent huge pages (Linux's `madvise` mode), which cuts
// the page walks by 512x. Smaller ones are aligned to a cache line. Only the
// control path allocates (when classes are added).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace sluice::shaper {

inline constexpr size_t kHugePage = size_t{2} << 20;

inline constexpr std::align_val_t kLineAlign{64};

inline void* huge_allocate(size_t bytes) {
    if (bytes < kHugePage) return ::operator new(bytes, kLineAlign);
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (!p) throw std::bad_alloc();
    madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
    return p;
}

inline void huge_free(void* p, size_t bytes) {
    if (bytes < kHugePage)
        ::operator delete(p, kLineAlign);
    else
        std::free(p);
}

template <typename T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <typename U>
    HugePageAllocator(const HugePageAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(huge_allocate(n * sizeof(T))); }
    void deallocate(T* p, size_t n) { huge_free(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const HugePageAllocator<U>&) const { return true; }
};

template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace sluice::shaper
