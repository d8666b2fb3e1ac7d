// Which instruction-set path the kernels run. One process-wide choice, made once from the
// CPU features (or EMBEDKIT_ISA), switchable later only through set_active_isa (tests and
// benchmarks compare paths in one process).
#pragma once

#include <string>

namespace embedkit {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };
constexpr int kNumIsas = 4;

const char* isa_name(Isa isa);
// Parses "scalar" | "avx2" | "avx512" | "neon"; returns false for anything else.
bool parse_isa(const std::string& name, Isa* isa);
// Compiled into this binary and runnable on this CPU.
bool isa_available(Isa isa);
// The widest available path.
Isa best_isa();

// The path in use. The first call reads EMBEDKIT_ISA; if that names an unknown or
// unavailable path, active_isa_error() says why and the best path is used meanwhile
// (the binding turns the error into a load failure).
Isa active_isa();
const std::string& active_isa_error();
// Returns an empty string on success, else why the path cannot be used.
std::string set_active_isa(Isa isa);

}  // namespace embedkit
