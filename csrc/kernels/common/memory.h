// Memory placement hints. Random row access into a large table misses the TLB on nearly
// every row with 4 KiB pages (a 512 MiB table spans 131,072 pages; the L2 TLB holds ~2,000),
// so tables benefit from transparent huge pages. Linux only; elsewhere a no-op.
#pragma once

#include <cstddef>

namespace embedkit {

// Asks the kernel to back [data, data + bytes) with transparent huge pages (the 2 MiB-aligned
// interior of the range). Pages not yet touched get huge pages when first written; touched
// ones only when khugepaged collapses them. Returns the bytes advised (0 if unsupported).
size_t advise_huge_pages(void* data, size_t bytes);

// Maps in every page of [data, data + bytes), memory that holds zeros already (a fresh
// output), by storing a zero byte into each 4 KiB page, each thread over its own contiguous
// part: for a kernel about to write such an array at random from several threads. Left to
// that kernel, the faults come in random order and its threads, which all write every huge
// page, wait on each other's faults. Does nothing on one thread (the kernel's own faults were
// faster there) or below kPrefaultMinBytes. Measurements: bench/NOTES.md, "Fresh outputs of
// the max backward".
void prefault_zeroed(void* data, size_t bytes);
constexpr size_t kPrefaultMinBytes = size_t{16} << 20;

}  // namespace embedkit
