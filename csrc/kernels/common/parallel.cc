#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <sys/prctl.h>
#endif

namespace embedkit {
namespace {

// A hint to the core that this thread is spinning (frees the pipeline for its sibling).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// True on a pool worker and on a caller while it runs a job's tasks: a parallel_for issued
// from there runs inline (the pool is busy with the enclosing job).
thread_local bool t_in_parallel_job = false;

struct ParallelJobScope {
  bool saved = t_in_parallel_job;
  ParallelJobScope() { t_in_parallel_job = true; }
  ~ParallelJobScope() { t_in_parallel_job = saved; }
};

int default_thread_count() {
  const char* env = std::getenv("EMBEDKIT_THREADS");
  if (env != nullptr && env[0] != '\0') {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= kMaxThreads) return static_cast<int>(n);
  }
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n >= 1) return std::min(n, kMaxThreads);
  }
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
}

class ThreadPool {
 public:
  ThreadPool() : configured_(default_thread_count()) {}
  ~ThreadPool() { stop_workers(); }

  int threads() const { return configured_.load(std::memory_order_relaxed); }

  void set_threads(int n) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    if (n == configured_.load()) return;
    stop_workers();
    configured_.store(n);
  }

  // Joins the worker threads (after the running job, if any); the next job starts them again.
  void release() {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop_workers();
  }

  int live_workers() {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    return static_cast<int>(workers_.size());
  }

  void run(int64_t num_tasks, void (*call)(void*, int64_t), void* ctx) {
    const int threads = configured_.load(std::memory_order_relaxed);
    auto run_inline = [&] {
      for (int64_t t = 0; t < num_tasks; ++t) call(ctx, t);
    };
    if (num_tasks < 2 || threads < 2 || t_in_parallel_job || num_tasks > kMaxJobTasks) {
      return run_inline();
    }
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (!job_lock.owns_lock()) return run_inline();  // another thread's job is running
    ParallelJobScope scope;
    start_workers(threads - 1);
    const int helpers = static_cast<int>(std::min<int64_t>(num_tasks - 1, workers_.size()));
    uint64_t job;
    int sleepers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job = job_ = (job_ + 1) & kJobMask;
      call_ = call;
      ctx_ = ctx;
      num_tasks_ = num_tasks;
      finished_.store(0, std::memory_order_relaxed);
      claims_.store(job << kTaskBits, std::memory_order_release);
      sleepers = sleepers_;
    }
    // Spinning and napping helpers see the new job in claims_ by themselves; only those asleep
    // on wake_ need the futex call (~8 us of the caller's time on the development VM).
    for (int h = 0; h < std::min(helpers, sleepers); ++h) wake_.notify_one();
    work(job, call, ctx, num_tasks);
    // Only the tasks a helper has claimed are waited for: a helper that wakes after the
    // caller took every task finds none and touches nothing of this call.
    auto all_finished = [&] { return finished_.load(std::memory_order_acquire) == num_tasks; };
    if (!spin_until(all_finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, all_finished);
    }
  }

 private:
  // claims_ holds the running job's number (high bits) and the next task to hand out (low
  // bits), so that a claim is one compare-and-swap and a helper still holding an earlier job's
  // number can never claim a task of a later one.
  static constexpr int kTaskBits = 32;
  static constexpr uint64_t kTaskMask = (uint64_t{1} << kTaskBits) - 1;
  static constexpr int64_t kMaxJobTasks = static_cast<int64_t>(kTaskMask);
  static constexpr uint64_t kJobMask = ~uint64_t{0} >> kTaskBits;  // job numbers wrap to fit claims_
  static constexpr std::chrono::microseconds kSpin{100};
  // After the spin, a helper naps in steps of kNap (a timer wake-up on its own core, with the
  // timer slack cut to 1 us; no call from the caller) for kNapWindow before it sleeps on wake_.
  // A caller that comes back within the window pays no wake-up: its call starts at once on its
  // own thread, and the helper joins within a nap. bench/thread-pool/latency.sh, 2 threads,
  // 300 us between calls, medians (bench/NOTES.md): an empty call 7.8 -> 0.4 us, 5 us of work
  // 13.1 -> 5.3, 20 us 29.6 -> 20.5 (one thread's time: the helper no longer costs the caller a
  // futex call), 100 us 77.1 -> 74.5; after 5 ms (asleep) as before. Cost: ~100 wake-ups of a
  // pool thread per call after which no other comes within 2 ms.
  static constexpr std::chrono::microseconds kNap{20};
  static constexpr std::chrono::microseconds kNapWindow{2000};

  // Runs tasks of job `job` until there are none left to claim.
  void work(uint64_t job, void (*call)(void*, int64_t), void* ctx, int64_t num_tasks) {
    uint64_t word = claims_.load(std::memory_order_acquire);
    for (;;) {
      if (word >> kTaskBits != job) return;  // a later job
      const int64_t task = static_cast<int64_t>(word & kTaskMask);
      if (task >= num_tasks) return;
      if (!claims_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
        continue;  // word now holds the current value
      }
      call(ctx, task);
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == num_tasks) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
      word = claims_.load(std::memory_order_acquire);
    }
  }

  void worker_loop() {
    t_in_parallel_job = true;
#if defined(__linux__)
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // naps of kNap, not kNap + the default 50 us
#endif
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    ++sleepers_;
    wake_.wait(lock, [&] { return stopping_ || job_ != seen; });
    --sleepers_;
    for (;;) {
      if (stopping_) return;
      seen = job_;
      void (*call)(void*, int64_t) = call_;
      void* ctx = ctx_;
      const int64_t num_tasks = num_tasks_;
      lock.unlock();
      work(seen, call, ctx, num_tasks);
      auto next_job = [&] {
        return claims_.load(std::memory_order_relaxed) >> kTaskBits != seen ||
               stop_requested_.load(std::memory_order_relaxed);
      };
      if (!spin_until(next_job)) nap_until(next_job);
      lock.lock();
      ++sleepers_;  // counted under mutex_, so a caller that misses this job sees the count
      wake_.wait(lock, [&] { return stopping_ || job_ != seen; });
      --sleepers_;
    }
  }

  // Sleeps in steps of kNap until `ready` or kNapWindow has passed.
  template <class Ready>
  static void nap_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + kNapWindow;
    while (!ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(kNap);
  }

  // Polls `ready` for up to kSpin; whether it became true. Threads spin before they sleep on a
  // condition variable: waking a sleeping thread cost ~50 us on the development VM (an empty
  // 2-thread parallel_for, bench/NOTES.md), longer than many whole calls. A worker spins for
  // the next job (a loop of kernel calls then finds its helpers awake), the caller for the
  // tasks helpers still run.
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (ready()) return true;
        cpu_relax();
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
  }

  void start_workers(int n) {
    if (static_cast<int>(workers_.size()) == n) return;
    stop_workers();
    stopping_ = false;
    workers_.reserve(n);
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      stop_requested_.store(true, std::memory_order_relaxed);
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    stopping_ = false;
    stop_requested_.store(false, std::memory_order_relaxed);
  }

  std::atomic<int> configured_;
  std::mutex job_mutex_;  // one parallel job at a time; others run inline
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  std::atomic<bool> stop_requested_{false};  // stopping_, for spinning and napping workers
  int sleepers_ = 0;  // workers asleep on wake_ (or about to be), under mutex_
  // The running job, under mutex_: its number, and what a helper that joins it calls.
  uint64_t job_ = 0;
  void (*call_)(void*, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t num_tasks_ = 0;
  std::atomic<uint64_t> claims_{0};
  std::atomic<int64_t> finished_{0};  // tasks of the running job that have returned
};

ThreadPool& pool() {
  static ThreadPool instance;
  return instance;
}

}  // namespace

int thread_count() { return pool().threads(); }

void release_threads() { pool().release(); }

int live_pool_threads() { return pool().live_workers(); }

std::string set_thread_count(int n) {
  if (t_in_parallel_job) return "threads cannot change from inside a parallel task";
  if (n < 1 || n > kMaxThreads) {
    return "threads must be an integer from 1 to " + std::to_string(kMaxThreads) + ", got " +
           std::to_string(n);
  }
  pool().set_threads(n);
  return std::string();
}

void parallel_for_impl(int64_t num_tasks, void (*call)(void*, int64_t), void* ctx) {
  pool().run(num_tasks, call, ctx);
}

int64_t task_count_for(int64_t work, int64_t min_work_per_task) {
  const int threads = thread_count();
  if (threads < 2 || work < 2 * min_work_per_task) return 1;
  const int64_t by_size = work / min_work_per_task;
  return std::max<int64_t>(1, std::min<int64_t>(by_size, int64_t{4} * threads));
}

}  // namespace embedkit
