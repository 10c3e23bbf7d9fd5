#include "lazuli/scheduler.h"

#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/device.h"
#endif

#include <cstdlib>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lazuli {

void Event::set_fence(std::shared_ptr<DeviceFence> fence) {
  std::lock_guard<std::mutex> lock(mutex_);
  fence_ = std::move(fence);
}
void Event::signal(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    error_ = error;
  }
  cv_.notify_all();
}
std::exception_ptr Event::wait_host_error() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return done_; });
  return error_;
}
std::exception_ptr Event::wait_error() {
  if (auto e = wait_host_error()) return e;
  if (fence_) {
    try {
      fence_->wait();
    } catch (...) {
      return std::current_exception();
    }
  }
  return nullptr;
}
std::shared_ptr<DeviceFence> Event::fence() {
  std::lock_guard<std::mutex> lock(mutex_);
  return fence_;
}
void Event::wait() {
  if (auto e = wait_error()) std::rethrow_exception(e);
}
bool Event::is_signaled() {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

namespace {

// One thread per stream runs its tasks in order.
class StreamWorker {
 public:
  StreamWorker() : thread_([this] { run(); }) { thread_.detach(); }
  void enqueue(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      task = nullptr;  // drop the task's references before taking the next one
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;
};

struct StreamRegistry {
  std::mutex mutex;
  std::vector<Stream> streams;
  std::vector<std::unique_ptr<StreamWorker>> workers;  // indexed like streams
  Device default_device{Device::cpu};
  std::vector<int> default_stream_of;  // by device type

  StreamRegistry() {
    streams.emplace_back(0, Device(Device::cpu));
    workers.push_back(std::make_unique<StreamWorker>());
    default_stream_of = {0, -1};
    // The GPU is the default where there is one; LAZULI_DEFAULT_DEVICE=cpu keeps the CPU.
    const char* env = std::getenv("LAZULI_DEFAULT_DEVICE");
    bool want_cpu = env && std::string(env) == "cpu";
    if (!want_cpu && device_count(Device::gpu) > 0) default_device = Device(Device::gpu);
  }
  Stream add(Device d) {
    std::lock_guard<std::mutex> lock(mutex);
    return add_locked(d);
  }
  Stream add_locked(Device d) {  // the caller holds the lock
    streams.emplace_back(static_cast<int>(streams.size()), d);
    workers.push_back(std::make_unique<StreamWorker>());
    return streams.back();
  }
  StreamWorker& worker(int index) {
    std::lock_guard<std::mutex> lock(mutex);
    return *workers.at(index);
  }
};

// Never destroyed: workers may still be running when static destructors run.
StreamRegistry& registry() {
  static auto* r = new StreamRegistry;
  return *r;
}

void check_device(const Device& d, const char* op) {
  if (!is_available(d))
    throw std::invalid_argument(std::string("[") + op + "] " +
                                (d.type == Device::gpu ? "gpu" : "cpu") + " device " +
                                std::to_string(d.index) + " is not available on this machine.");
}

}  // namespace

bool operator==(const Device& a, const Device& b) { return a.type == b.type && a.index == b.index; }
bool operator!=(const Device& a, const Device& b) { return !(a == b); }
bool operator==(const Stream& a, const Stream& b) { return a.index == b.index; }
bool operator!=(const Stream& a, const Stream& b) { return !(a == b); }

int device_count(Device::DeviceType t) {
  if (t == Device::cpu) return 1;
#ifdef LAZULI_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}
bool is_available(const Device& d) { return d.index >= 0 && d.index < device_count(d.type); }

const Device& default_device() { return registry().default_device; }
void set_default_device(const Device& d) {
  check_device(d, "set_default_device");
  registry().default_device = d;
}

Stream default_stream(Device d) {
  check_device(d, "default_stream");
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  int& index = r.default_stream_of[static_cast<int>(d.type)];
  if (index < 0) index = r.add_locked(d).index;  // the GPU's default stream, made on first use
  return r.streams[index];
}
void set_default_stream(Stream s) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (s.index < 0 || s.index >= static_cast<int>(r.streams.size()))
    throw std::invalid_argument("[set_default_stream] Unknown stream " + std::to_string(s.index) + ".");
  r.default_stream_of[static_cast<int>(s.device.type)] = s.index;
}
Stream new_stream(Device d) {
  check_device(d, "new_stream");
  return registry().add(d);
}

Stream to_stream(StreamOrDevice s) {
  if (auto* st = std::get_if<Stream>(&s)) return *st;
  if (auto* d = std::get_if<Device>(&s)) return default_stream(*d);
  return default_stream(default_device());
}

void synchronize(Stream s) {
  auto done = std::make_shared<Event>();
  // On a GPU stream the tasks only launch kernels: the fence waits for the kernels too.
  scheduler::enqueue(s, [done, s] {
#ifdef LAZULI_CUDA
    if (s.device == Device::gpu) done->set_fence(cuda::stream_fence(s.index));
#endif
    done->signal();
  });
  done->wait();
#ifdef LAZULI_CUDA
  // Let go of the inputs the finished GPU nodes kept alive (their buffers, deleters).
  if (s.device == Device::gpu) cuda::completed_tag();
#endif
}
void synchronize() {
  std::vector<Stream> all;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    all = registry().streams;
  }
  for (auto& s : all) synchronize(s);
}

namespace scheduler {
void enqueue(const Stream& s, std::function<void()> task) { registry().worker(s.index).enqueue(std::move(task)); }
}  // namespace scheduler

}  // namespace lazuli
