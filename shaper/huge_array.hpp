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
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace sluice::shaper {

inline constexpr size_t kHugePage = size_t{2} << 20;

inline constexpr std::align_val_t kLineAlign{64};

// Big arrays are mapped on their own, 2 MiB-aligned, rather than taken
// from malloc: once a big block has been freed, glibc serves blocks of its
// size from its heap, whose pages may already be mapped 4 KiB at a time
// (seen when a scheduler is built after another was destroyed).
inline void* huge_allocate(size_t bytes) {
    if (bytes < kHugePage) return ::operator new(bytes, kLineAlign);
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* raw = mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    // Keep the 2 MiB-aligned part; give back what is before and after it.
    char* const start = static_cast<char*>(raw);
    char* const p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(start) + kHugePage - 1) & ~(kHugePage - 1));
    if (p > start) munmap(start, static_cast<size_t>(p - start));
    if (const size_t tail = static_cast<size_t>(start + rounded + kHugePage - (p + rounded))) munmap(p + rounded, tail);
    madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
    return p;
}

inline void huge_free(void* p, size_t bytes) {
    if (bytes < kHugePage)
        ::operator delete(p, kLineAlign);
    else
        munmap(p, (bytes + kHugePage - 1) / kHugePage * kHugePage);
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
