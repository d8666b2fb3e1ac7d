#include "kernel_stats.h"

#include <atomic>

namespace embedkit {
namespace {
std::atomic<uint64_t> g_calls[kNumIsas];
}

void count_kernel_call(Isa isa) {
  g_calls[static_cast<int>(isa)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t kernel_calls(Isa isa) { return g_calls[static_cast<int>(isa)].load(); }

}  // namespace embedkit
