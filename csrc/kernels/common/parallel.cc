#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace embedkit {
namespace {

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
    if (num_tasks < 2 || threads < 2 || t_in_parallel_job) return run_inline();
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (!job_lock.owns_lock()) return run_inline();  // another thread's job is running
    ParallelJobScope scope;
    start_workers(threads - 1);
    const int helpers = static_cast<int>(std::min<int64_t>(num_tasks - 1, workers_.size()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      call_ = call;
      ctx_ = ctx;
      num_tasks_ = num_tasks;
      next_task_.store(0);
      helpers_wanted_ = helpers;
      helpers_done_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return helpers_done_ == helpers_wanted_; });
  }

 private:
  void drain() {
    for (;;) {
      const int64_t t = next_task_.fetch_add(1, std::memory_order_relaxed);
      if (t >= num_tasks_) return;
      call_(ctx_, t);
    }
  }

  void worker_loop() {
    t_in_parallel_job = true;
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && helpers_wanted_ > 0); });
      if (stopping_) return;
      seen = generation_;
      // Only as many workers as the job wants join it; the rest skip this generation.
      if (helpers_joined_for_ == seen) {
        if (helpers_joined_ >= helpers_wanted_) continue;
      } else {
        helpers_joined_for_ = seen;
        helpers_joined_ = 0;
      }
      ++helpers_joined_;
      lock.unlock();
      drain();
      lock.lock();
      if (++helpers_done_ == helpers_wanted_) done_.notify_one();
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
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    stopping_ = false;
  }

  std::atomic<int> configured_;
  std::mutex job_mutex_;  // one parallel job at a time; others run inline
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  uint64_t helpers_joined_for_ = 0;
  int helpers_joined_ = 0;
  int helpers_wanted_ = 0;
  int helpers_done_ = 0;
  void (*call_)(void*, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t num_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
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
