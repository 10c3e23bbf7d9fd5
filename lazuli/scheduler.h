// Internal: the per-stream workers that run evaluation tasks, and the events that order
// work across streams.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>

#include "lazuli/device.h"

namespace lazuli {

// Set once when the work that makes an array is done (or has failed).
class Event {
 public:
  void signal(std::exception_ptr error = nullptr);
  void wait();                  // rethrows the work's error
  std::exception_ptr wait_error();  // waits, returns the error instead of throwing
  bool is_signaled();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

namespace scheduler {
// Runs `task` on the stream's worker, after every task enqueued there before it.
void enqueue(const Stream& s, std::function<void()> task);
}  // namespace scheduler

}  // namespace lazuli
