// One lazily created thread pool for every kernel. parallel_for hands out task numbers
// dynamically; kernels make each task's result independent of which thread runs it, so
// output is bitwise identical for any thread count.
#pragma once

#include <cstdint>
#include <string>

namespace embedkit {

// Threads a parallel call may use, the caller included. Defaults to EMBEDKIT_THREADS, or
// the CPUs this process may run on (sched affinity).
int thread_count();
// 1..kMaxThreads; returns an empty string on success, else why not.
std::string set_thread_count(int n);
constexpr int kMaxThreads = 1024;

// Joins the pool's worker threads, waiting for a running parallel call to finish; the next
// parallel call starts them again. The addon calls it when the last JS environment that
// loaded it (the main thread or a worker) shuts down, so no thread outlives its users.
void release_threads();
// Worker threads the pool holds now (0 before the first parallel call and after release).
int live_pool_threads();

// Calls fn(task) for every task in [0, num_tasks). Runs on the calling thread alone when
// num_tasks < 2, when one thread is configured, or when the pool is already busy with
// another call (a nested call, or a second JS thread): that is always correct, and never
// waits on the other call. Otherwise the caller takes tasks as well and returns once every
// task has returned; a pool thread that wakes after the caller took the last task is not
// waited for. Pool threads poll ~100 us for the next call, then nap in short steps for ~2 ms,
// before they sleep, so calls that follow within that window do not pay for waking them.
void parallel_for_impl(int64_t num_tasks, void (*call)(void* ctx, int64_t task), void* ctx);

template <class Fn>
void parallel_for(int64_t num_tasks, Fn&& fn) {
  parallel_for_impl(
      num_tasks, [](void* ctx, int64_t task) { (*static_cast<Fn*>(ctx))(task); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// How many tasks to cut `work` units into: about 4 per thread for dynamic balance, none
// smaller than min_work_per_task (below it a thread costs more than it saves).
int64_t task_count_for(int64_t work, int64_t min_work_per_task);

}  // namespace embedkit
