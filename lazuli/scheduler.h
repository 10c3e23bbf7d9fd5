// Internal: the per-stream workers that run evaluation tasks, and the events that order
// work across streams.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>

#include "lazuli/device.h"

namespace lazuli {

// Work a device has been handed but may not have finished (a CUDA event after a GPU
// node's kernels). `stream` is the Lazuli stream whose device queue runs it in order.
class DeviceFence {
 public:
  explicit DeviceFence(int stream) : stream(stream) {}
  virtual ~DeviceFence() = default;
  virtual void wait() = 0;  // blocks until the device work is done; throws its error
  const int stream;
};

// Set once when the work that makes an array has been done (or has failed) on the host. A
// GPU node's event also carries the fence of its kernels: wait() waits for both, while a
// node later in the same GPU stream only needs the host part (the stream keeps order).
class Event {
 public:
  void set_fence(std::shared_ptr<DeviceFence> fence);  // before signal
  void signal(std::exception_ptr error = nullptr);
  void wait();                       // rethrows the work's error
  std::exception_ptr wait_error();   // waits, returns the error instead of throwing
  std::exception_ptr wait_host_error();  // waits for the host part only
  std::shared_ptr<DeviceFence> fence();  // null before the host part is done
  bool is_signaled();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
  std::shared_ptr<DeviceFence> fence_;
};

namespace scheduler {
// Runs `task` on the stream's worker, after every task enqueued there before it.
void enqueue(const Stream& s, std::function<void()> task);
}  // namespace scheduler

}  // namespace lazuli
