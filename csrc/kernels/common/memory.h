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

}  // namespace embedkit
