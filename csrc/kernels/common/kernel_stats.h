// Per-ISA kernel call counters: the proof, in tests, that a forced path really ran.
#pragma once

#include <cstdint>

#include "isa.h"

namespace embedkit {

void count_kernel_call(Isa isa);
uint64_t kernel_calls(Isa isa);

}  // namespace embedkit
