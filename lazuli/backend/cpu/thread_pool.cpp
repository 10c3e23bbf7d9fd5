#include "lazuli/backend/cpu/thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace lazuli::cpu {
namespace {

// One parallel job. Each job has its own counters, so a worker that wakes late only ever
// claims chunks of the job it saw (finding none left), never a later job's.
struct Job {
  const std::function<void(int64_t)>* chunk;
  int64_t chunks;
  std::atomic<int64_t> next{0}, done{0};
  Job(const std::function<void(int64_t)>* f, int64_t n) : chunk(f), chunks(n) {}
  void claim() {
    for (int64_t c; (c = next.fetch_add(1)) < chunks;) {
      (*chunk)(c);
      done.fetch_add(1, std::memory_order_release);
    }
  }
};

class ThreadPool {
 public:
  ThreadPool() {
    int n = std::max(1u, std::thread::hardware_concurrency());
    for (int i = 1; i < n; ++i) std::thread([this] { work(); }).detach();
    threads_ = n;
  }
  int threads() const { return threads_; }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) {  // another stream is using the pool: do this job here
      for (int64_t c = 0; c < chunks; ++c) chunk(c);
      return;
    }
    auto job = std::make_shared<Job>(&chunk, chunks);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      ++generation_;
    }
    cv_.notify_all();
    job->claim();
    while (job->done.load(std::memory_order_acquire) < chunks) std::this_thread::yield();
    std::lock_guard<std::mutex> lock(mutex_);
    job_.reset();  // `chunk` dies with this call: no worker may pick this job up after it
  }

 private:
  void work() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return generation_ != seen && job_ != nullptr; });
        seen = generation_;
        job = job_;
      }
      job->claim();
    }
  }

  int threads_ = 1;
  std::mutex run_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
};

// Never destroyed: workers sleep in it until the process ends.
ThreadPool& pool() {
  static auto* p = new ThreadPool;
  return *p;
}

}  // namespace

int thread_count() { return pool().threads(); }
void run_chunks(int64_t chunks, const std::function<void(int64_t)>& chunk) { pool().run(chunks, chunk); }

}  // namespace lazuli::cpu
