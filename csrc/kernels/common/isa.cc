#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "cpu_features.h"
#include "target.h"

namespace embedkit {
namespace {

std::atomic<int> g_active{-1};
std::once_flag g_init_once;
std::string g_init_error;

std::string available_list() {
  std::string list;
  for (int i = 0; i < kNumIsas; ++i) {
    if (!isa_available(static_cast<Isa>(i))) continue;
    if (!list.empty()) list += ", ";
    list += isa_name(static_cast<Isa>(i));
  }
  return list;
}

void init_from_environment() {
  Isa chosen = best_isa();
  const char* forced = std::getenv("EMBEDKIT_ISA");
  if (forced != nullptr && forced[0] != '\0') {
    Isa requested;
    if (!parse_isa(forced, &requested)) {
      g_init_error = std::string("EMBEDKIT_ISA='") + forced +
                     "' is not an ISA name; use one of scalar, avx2, avx512, neon";
    } else if (!isa_available(requested)) {
      g_init_error = std::string("EMBEDKIT_ISA=") + forced +
                     " was requested but this CPU or build cannot run it (available: " +
                     available_list() + ")";
    } else {
      chosen = requested;
    }
  }
  g_active.store(static_cast<int>(chosen));
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "unknown";
}

bool parse_isa(const std::string& name, Isa* isa) {
  for (int i = 0; i < kNumIsas; ++i) {
    if (name == isa_name(static_cast<Isa>(i))) {
      *isa = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

bool isa_available(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(EMBEDKIT_X86_64)
    case Isa::Avx2: return f.has_avx2_path();
    case Isa::Avx512: return f.has_avx512_path();
#endif
#if defined(EMBEDKIT_ARM64)
    case Isa::Neon: return f.neon;
#endif
    default: return false;
  }
}

Isa best_isa() {
  if (isa_available(Isa::Avx512)) return Isa::Avx512;
  if (isa_available(Isa::Avx2)) return Isa::Avx2;
  if (isa_available(Isa::Neon)) return Isa::Neon;
  return Isa::Scalar;
}

Isa active_isa() {
  std::call_once(g_init_once, init_from_environment);
  return static_cast<Isa>(g_active.load(std::memory_order_relaxed));
}

const std::string& active_isa_error() {
  std::call_once(g_init_once, init_from_environment);
  return g_init_error;
}

std::string set_active_isa(Isa isa) {
  std::call_once(g_init_once, init_from_environment);
  if (!isa_available(isa)) {
    return std::string("ISA '") + isa_name(isa) +
           "' cannot run here (available: " + available_list() + ")";
  }
  g_active.store(static_cast<int>(isa));
  return std::string();
}

}  // namespace embedkit
