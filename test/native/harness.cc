// The harness's registry, failure reporting, watchdog and main().
#include "harness.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

namespace harness {
namespace {

constexpr int64_t kMaxPrintedPerTest = 20;

uint64_t g_base_seed = 0;
uint64_t g_test_seed = 0;
bool g_quick = false;
const char* g_test_name = "";
const char* g_argv0 = "embedkit_native_tests";
std::atomic<int64_t> g_failures{0};
std::mutex g_print_mutex;
thread_local std::vector<std::string> t_context;

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const char* s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s != '\0'; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
  return h;
}

bool parse_u64(const char* text, uint64_t* value) {
  if (text == nullptr || text[0] == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 0);
  if (end == text || *end != '\0') return false;
  *value = v;
  return true;
}

// Aborts the process when one test runs longer than the limit (a hang or a deadlock
// must fail the run, not stall it).
class Watchdog {
 public:
  explicit Watchdog(double seconds) : limit_(seconds), thread_([this] { loop(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void start(const char* name) {
    std::lock_guard<std::mutex> lock(mutex_);
    name_ = name;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(limit_));
    armed_ = true;
    cv_.notify_all();
  }
  void finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      if (cv_.wait_until(lock, deadline_) == std::cv_status::timeout && armed_ && !stop_ &&
          std::chrono::steady_clock::now() >= deadline_) {
        std::fprintf(stderr,
                     "\nFAIL %s: still running after %.0f s (hang or deadlock?); aborting\n"
                     "  seed %llu: rerun with EMBEDKIT_TEST_SEED=%llu %s %s\n",
                     name_, limit_, static_cast<unsigned long long>(g_base_seed),
                     static_cast<unsigned long long>(g_base_seed), g_argv0, name_);
        std::fflush(stderr);
        std::_Exit(3);
      }
    }
  }

  double limit_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  const char* name_ = "";
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

}  // namespace

Msg& Msg::operator<<(const char* s) { text_ += s != nullptr ? s : "(null)"; return *this; }
Msg& Msg::operator<<(const std::string& s) { text_ += s; return *this; }
Msg& Msg::operator<<(char c) { text_ += c; return *this; }
Msg& Msg::operator<<(bool b) { text_ += b ? "true" : "false"; return *this; }
Msg& Msg::operator<<(int v) { return *this << static_cast<long long>(v); }
Msg& Msg::operator<<(long v) { return *this << static_cast<long long>(v); }
Msg& Msg::operator<<(long long v) { text_ += std::to_string(v); return *this; }
Msg& Msg::operator<<(unsigned v) { return *this << static_cast<unsigned long long>(v); }
Msg& Msg::operator<<(unsigned long v) { return *this << static_cast<unsigned long long>(v); }
Msg& Msg::operator<<(unsigned long long v) { text_ += std::to_string(v); return *this; }
Msg& Msg::operator<<(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  text_ += buf;
  return *this;
}

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

uint64_t base_seed() { return g_base_seed; }
uint64_t test_seed() { return g_test_seed; }
bool quick() { return g_quick; }
int64_t failures_in_test() { return g_failures.load(); }

ScopedContext::ScopedContext(std::string text) { t_context.push_back(std::move(text)); }
ScopedContext::~ScopedContext() { t_context.pop_back(); }

bool report_failure(const char* file, int line, const std::string& what) {
  const int64_t n = g_failures.fetch_add(1) + 1;
  if (n > kMaxPrintedPerTest) return false;
  const char* base = std::strrchr(file, '/');
  std::string context;
  for (const std::string& c : t_context) context += "\n    in: " + c;
  std::lock_guard<std::mutex> lock(g_print_mutex);
  std::printf("FAIL %s: %s:%d: %s%s\n    seed: base %llu, test %llu; rerun: "
              "EMBEDKIT_TEST_SEED=%llu %s %s\n",
              g_test_name, base != nullptr ? base + 1 : file, line, what.c_str(),
              context.c_str(), static_cast<unsigned long long>(g_base_seed),
              static_cast<unsigned long long>(g_test_seed),
              static_cast<unsigned long long>(g_base_seed), g_argv0, g_test_name);
  if (n == kMaxPrintedPerTest) std::printf("    (further failures in %s not printed)\n", g_test_name);
  std::fflush(stdout);
  return false;
}

}  // namespace harness

int main(int argc, char** argv) {
  using namespace harness;
  g_argv0 = argv[0];
  const char* seed_env = std::getenv("EMBEDKIT_TEST_SEED");
  if (!parse_u64(seed_env, &g_base_seed)) {
    std::random_device rd;
    g_base_seed = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                  static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    g_base_seed &= (uint64_t{1} << 53) - 1;  // readable, and exact if it passes through JS
  }
  const char* quick_env = std::getenv("EMBEDKIT_TEST_QUICK");
  g_quick = quick_env != nullptr && quick_env[0] != '\0' && std::strcmp(quick_env, "0") != 0;
  uint64_t timeout_s = 600;
  parse_u64(std::getenv("EMBEDKIT_TEST_TIMEOUT"), &timeout_s);

  // Arguments: substrings of test names to run (all when none); --list prints the names.
  std::vector<const char*> filters;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0) {
      for (const TestCase& t : registry()) std::printf("%s\n", t.name);
      return 0;
    }
    filters.push_back(argv[i]);
  }

  std::printf("embedkit native tests: seed %llu (reproduce with EMBEDKIT_TEST_SEED=%llu)%s\n",
              static_cast<unsigned long long>(g_base_seed),
              static_cast<unsigned long long>(g_base_seed), g_quick ? ", quick mode" : "");
  std::fflush(stdout);

  Watchdog watchdog(static_cast<double>(timeout_s));
  int passed = 0, failed = 0;
  for (const TestCase& t : registry()) {
    bool selected = filters.empty();
    for (const char* f : filters) selected |= std::strstr(t.name, f) != nullptr;
    if (!selected) continue;
    g_test_name = t.name;
    g_test_seed = mix(g_base_seed ^ hash_name(t.name));
    g_failures.store(0);
    const auto start = std::chrono::steady_clock::now();
    watchdog.start(t.name);
    try {
      t.fn();
    } catch (const std::exception& e) {
      report_failure(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    } catch (...) {
      report_failure(__FILE__, __LINE__, "uncaught exception of unknown type");
    }
    watchdog.finish();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int64_t n = g_failures.load();
    if (n == 0) {
      ++passed;
      std::printf("ok   %s (%.2f s)\n", t.name, secs);
    } else {
      ++failed;
      std::printf("FAILED %s: %lld failure(s) (%.2f s)\n", t.name, static_cast<long long>(n),
                  secs);
    }
    std::fflush(stdout);
  }
  if (passed + failed == 0) std::printf("no test matched the filters\n");
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

const embedkit::Isa kAllIsas[embedkit::kNumIsas] = {embedkit::Isa::Scalar, embedkit::Isa::Avx2,
                                                    embedkit::Isa::Avx512, embedkit::Isa::Neon};

std::vector<embedkit::Isa> runnable_isas() {
  std::vector<embedkit::Isa> out;
  for (embedkit::Isa isa : kAllIsas) {
    if (embedkit::isa_available(isa)) out.push_back(isa);
  }
  return out;
}
