// A tiny self-contained test harness for the native C++ tests (no gtest).
//
//   TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); REQUIRE(ok); }
//
// Every test gets its own seed, derived from the run's base seed and the test's name, so a
// failure is replayed with EMBEDKIT_TEST_SEED=<base> <binary> <test name>. Failures print
// the test, file:line, the expression, the active SCOPED_CONTEXT strings and the seeds.
// The run ends with a line "N passed, N failed"; the exit code is non-zero on any failure.
//
// Environment: EMBEDKIT_TEST_SEED (base seed), EMBEDKIT_TEST_QUICK=1 (smaller shapes, for
// emulators), EMBEDKIT_TEST_TIMEOUT (seconds per test before the watchdog aborts; 600).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/isa.h"

namespace harness {

using TestFn = void (*)();
struct TestCase {
  const char* name;
  TestFn fn;
};
std::vector<TestCase>& registry();
struct Register {
  Register(const char* name, TestFn fn) { registry().push_back({name, fn}); }
};

uint64_t base_seed();  // the run's seed (EMBEDKIT_TEST_SEED, else fresh)
uint64_t test_seed();  // the running test's seed
bool quick();          // EMBEDKIT_TEST_QUICK=1: smaller shapes

// Thread-safe; returns false so CHECK expressions can be used in conditions.
bool report_failure(const char* file, int line, const std::string& what);
// Failures so far in the running test.
int64_t failures_in_test();

// Context strings printed with every failure raised on this thread while alive.
class ScopedContext {
 public:
  explicit ScopedContext(std::string text);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;
};

// Builds failure messages. Its operator<< overloads live in harness.cc, out of line, so
// the many CHECK_MSG sites stay cheap to compile (an inlined ostringstream at each of them
// made the test file take ~20 s to build, ~50 s under ASan).
class Msg {
 public:
  Msg& operator<<(const char* s);
  Msg& operator<<(const std::string& s);
  Msg& operator<<(char c);
  Msg& operator<<(bool b);
  Msg& operator<<(int v);
  Msg& operator<<(long v);
  Msg& operator<<(long long v);
  Msg& operator<<(unsigned v);
  Msg& operator<<(unsigned long v);
  Msg& operator<<(unsigned long long v);
  Msg& operator<<(double v);
  Msg& operator<<(float v) { return *this << static_cast<double>(v); }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

// Concatenates strings, characters and numbers.
template <class... Args>
std::string str(const Args&... args) {
  Msg m;
  (m << ... << args);
  return m.take();
}

}  // namespace harness

#define HARNESS_CAT2(a, b) a##b
#define HARNESS_CAT(a, b) HARNESS_CAT2(a, b)

#define TEST(name)                                                                   \
  static void harness_test_##name();                                                 \
  static const ::harness::Register harness_register_##name(#name, &harness_test_##name); \
  static void harness_test_##name()

#define SCOPED_CONTEXT(...) \
  ::harness::ScopedContext HARNESS_CAT(harness_context_, __LINE__)(::harness::str(__VA_ARGS__))

// CHECK(cond) / CHECK_MSG(cond, parts...): record a failure and go on.
#define CHECK(cond) \
  ((cond) ? true : ::harness::report_failure(__FILE__, __LINE__, "CHECK(" #cond ")"))
#define CHECK_MSG(cond, ...)                                                               \
  ((cond) ? true                                                                         \
          : ::harness::report_failure(__FILE__, __LINE__,                                \
                                      ::harness::str("CHECK(" #cond "): ", __VA_ARGS__)))
#define CHECK_EQ(a, b)                                                                     \
  do {                                                                                     \
    const auto& harness_a_ = (a);                                                          \
    const auto& harness_b_ = (b);                                                          \
    if (!(harness_a_ == harness_b_)) {                                                     \
      ::harness::report_failure(                                                           \
          __FILE__, __LINE__,                                                              \
          ::harness::str("CHECK_EQ(" #a ", " #b "): ", harness_a_, " != ", harness_b_));   \
    }                                                                                      \
  } while (0)
// REQUIRE(cond): record a failure and return from the (void) test function.
#define REQUIRE(cond)                                                        \
  do {                                                                       \
    if (!(cond)) {                                                           \
      ::harness::report_failure(__FILE__, __LINE__, "REQUIRE(" #cond ")");   \
      return;                                                                \
    }                                                                        \
  } while (0)

// Every ISA, and those this CPU (and build) can run, scalar first: shared by the families' tests.
extern const embedkit::Isa kAllIsas[embedkit::kNumIsas];
std::vector<embedkit::Isa> runnable_isas();

// A float's bit pattern and back: exact comparisons (NaN payloads, -0.0) and poison values.
inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

namespace harness {

// The tests' seeded generator (splitmix64): the same seed replays the same data.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); 0 when n <= 0.
  int64_t below(int64_t n) { return n <= 0 ? 0 : static_cast<int64_t>(next() % uint64_t(n)); }
  int64_t between(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }  // inclusive
  double unit() { return static_cast<double>(next() >> 11) * 0x1p-53; }      // [0, 1)
  bool coin(double p) { return unit() < p; }
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(static_cast<double>(next() >> 40) * 0x1p-24);
  }
  // Never zero: magnitude in [0.1, 2), random sign.
  float nonzero() { return (coin(0.5) ? -1.0f : 1.0f) * uniform(0.1f, 2.0f); }

 private:
  uint64_t state_;
};

}  // namespace harness
