#include "lazuli/backend/cpu/thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace lazuli::cpu {
namespace {

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
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &chunk;
      chunks_ = chunks;
      next_.store(0);
      done_.store(0);
      ++generation_;
    }
    cv_.notify_all();
    claim();
    while (done_.load(std::memory_order_acquire) < chunks) std::this_thread::yield();
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
  }

 private:
  // Claims and runs chunks until none are left.
  void claim() {
    const auto* job = job_;
    for (int64_t c; (c = next_.fetch_add(1)) < chunks_;) {
      (*job)(c);
      done_.fetch_add(1, std::memory_order_release);
    }
  }
  void work() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return generation_ != seen && job_ != nullptr; });
        seen = generation_;
      }
      claim();
    }
  }

  int threads_ = 1;
  std::mutex run_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable cv_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t chunks_ = 0;
  uint64_t generation_ = 0;
  std::atomic<int64_t> next_{0}, done_{0};
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
