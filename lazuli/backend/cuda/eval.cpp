// CUDA backend: how a primitive runs on the GPU. Views run their CPU code over the same
// managed memory; everything else goes to the kernel its family registered (host.h).
//
// Nodes do not wait for their kernels. Each GPU stream keeps a queue of nodes in flight:
// a CUDA event recorded after the node's kernels, and the node's inputs, held so that no
// buffer a kernel reads is freed, reused or donated before the kernel is done. The
// scheduler's events carry the stream's latest CUDA event as a fence (stream_fence), which
// CPU readers and eval wait on; the allocator defers frees past the kernels in flight
// (free_tag, completed_tag).
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/device.h"
#include "lazuli/backend/cuda/elementwise.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives.h"
#include "lazuli/primitives/indexing.h"
#include "lazuli/scheduler.h"

namespace lazuli::cuda {
namespace {

// Buffers from the allocator are managed memory, which kernels address directly; memory a
// caller lent (an array over a pointer) or a memory-mapped file is not, and a kernel
// reading it would fault and take the whole CUDA context down with it.
bool device_accessible(const array& a) {
  if (a.size() == 0 || !a.has_data() || is_managed(a.buffer().ptr)) return true;
  cudaPointerAttributes attr;
  LAZULI_CUDA_CHECK(cudaPointerGetAttributes(&attr, data_of(a)));
  return attr.type == cudaMemoryTypeManaged || attr.type == cudaMemoryTypeDevice ||
         attr.type == cudaMemoryTypeHost;  // pinned host memory is mapped for the device
}
// A row-major copy in managed memory, made on the host.
array staged(const array& a) {
  array copy(a.shape(), a.dtype(), nullptr, {});
  cpu::allocate(copy);
  if (copy.size() > 0) cpu::copy_to(a, copy, copy.strides(), 0);
  return copy;
}

// Primitives that only make a new view of their input's buffer (Depends and
// CustomTransforms pass their inputs' buffers through): they run as on the CPU, over the
// same managed memory, reading no data.
bool is_view(const Primitive& p) {
  return dynamic_cast<const Broadcast*>(&p) || dynamic_cast<const Transpose*>(&p) ||
         dynamic_cast<const Slice*>(&p) || dynamic_cast<const AsStrided*>(&p) || dynamic_cast<const View*>(&p) ||
         dynamic_cast<const StopGradient*>(&p) || dynamic_cast<const Depends*>(&p) ||
         dynamic_cast<const CustomTransforms*>(&p);
}

// A reshape the strides do not allow as a view copies the elements in row-major order on
// the device (the CPU code would copy on the host, racing the kernels).
void eval_reshape(const std::vector<array>& in, std::vector<array>& out, const GpuContext& ctx) {
  cpu::allocate(out[0]);
  auto ix = make_indexer<1>(in[0].shape(), {in[0].strides()}, "reshape");
  launch_convert(in[0].dtype(), out[0].dtype(), data_of(in[0]), out[0].raw_data(), in[0].size(), ix, ctx.stream);
}

// CUDA events are reused: making one per node would cost about as much as its launch.
std::mutex event_pool_mutex;
std::vector<cudaEvent_t>& event_pool() {
  static auto* pool = new std::vector<cudaEvent_t>;  // never destroyed: fences die at exit too
  return *pool;
}
cudaEvent_t take_event() {
  {
    std::lock_guard<std::mutex> lock(event_pool_mutex);
    if (!event_pool().empty()) {
      cudaEvent_t e = event_pool().back();
      event_pool().pop_back();
      return e;
    }
  }
  cudaEvent_t e;
  LAZULI_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}

class CudaFence : public DeviceFence {
 public:
  CudaFence(int stream, cudaEvent_t event) : DeviceFence(stream), event_(event) {}
  ~CudaFence() override {  // no one waits on the event any more: it may be recorded again
    std::lock_guard<std::mutex> lock(event_pool_mutex);
    event_pool().push_back(event_);
  }
  void wait() override { LAZULI_CUDA_CHECK(cudaEventSynchronize(event_)); }
  bool done() const {
    cudaError_t e = cudaEventQuery(event_);
    if (e == cudaErrorNotReady) return false;
    if (e != cudaSuccess) cudaGetLastError();  // a failed kernel: wait() reports it
    return true;
  }

 private:
  cudaEvent_t event_;
};

struct Flight {
  uint64_t ticket;
  std::shared_ptr<CudaFence> fence;  // null while the node is still launching
  std::vector<array> keep;
};
struct StreamFlights {
  std::mutex mutex;
  std::deque<Flight> flights;
};

std::atomic<uint64_t> issued{0};     // the last ticket handed to a node
std::atomic<uint64_t> completed{0};  // every node up to this ticket is done (as last seen)

std::mutex streams_mutex;
std::map<int, StreamFlights*>& all_streams() {
  static auto* streams = new std::map<int, StreamFlights*>;  // never destroyed, like the CUDA streams
  return *streams;
}
StreamFlights& flights_of(int stream) {
  std::lock_guard<std::mutex> lock(streams_mutex);
  auto& f = all_streams()[stream];
  if (!f) f = new StreamFlights;
  return *f;
}

// At most this many nodes in flight per stream: past it, the launching thread waits for
// the oldest, which bounds the memory the queue holds.
constexpr size_t kMaxFlights = 1024;

}  // namespace

bool eval_gpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (is_view(p)) {
    p.eval_cpu(inputs, outputs);
    return true;
  }
  auto* reshape = dynamic_cast<Reshape*>(&p);
  if (reshape && (inputs[0].size() == 0 || !Reshape::view_strides(inputs[0], outputs[0].shape()).empty())) {
    p.eval_cpu(inputs, outputs);  // a view after all
    return true;
  }
  const GpuKernel* kernel = reshape ? nullptr : find_gpu_kernel(typeid(p));
  if (!kernel && !reshape) return false;
  int stream = p.stream().index;
  LAZULI_CUDA_CHECK(cudaSetDevice(p.device().index));
  GpuContext ctx{stream_of(stream), stream};
  StreamFlights& sf = flights_of(stream);
  {
    // The ticket is taken before any temporary is made, so their frees wait for this node,
    // and under the queue's lock, so completed_tag never sees it without its flight.
    std::lock_guard<std::mutex> lock(sf.mutex);
    sf.flights.push_back({++issued, nullptr, inputs});
  }
  std::vector<array> in = inputs;
  for (auto& a : in)
    if (!device_accessible(a)) a = staged(a);
  std::exception_ptr error;
  try {
    if (reshape) eval_reshape(in, outputs, ctx);
    else (*kernel)(p, in, outputs, ctx);
  } catch (...) {
    error = std::current_exception();
  }
  cudaEvent_t event = take_event();
  auto fence = std::make_shared<CudaFence>(stream, event);
  LAZULI_CUDA_CHECK(cudaEventRecord(event, ctx.stream));
  std::shared_ptr<CudaFence> oldest;
  {
    std::lock_guard<std::mutex> lock(sf.mutex);
    Flight& f = sf.flights.back();  // only this stream's worker adds to its queue
    f.fence = fence;
    for (auto& a : in) f.keep.push_back(a);  // staged copies too
    if (sf.flights.size() > kMaxFlights) oldest = sf.flights.front().fence;
  }
  if (oldest) oldest->wait();
  if (error) std::rethrow_exception(error);
  return true;
}

std::shared_ptr<DeviceFence> stream_fence(int stream) {
  StreamFlights& sf = flights_of(stream);
  std::lock_guard<std::mutex> lock(sf.mutex);
  for (auto it = sf.flights.rbegin(); it != sf.flights.rend(); ++it)
    if (it->fence) return it->fence;
  return nullptr;
}

uint64_t free_tag() {
  uint64_t t = issued.load();
  return t == completed.load() ? 0 : t;
}

uint64_t completed_tag() {
  uint64_t last = issued.load();  // read first: later tickets are not waited for
  if (last == completed.load()) return last;
  std::vector<StreamFlights*> streams;
  {
    std::lock_guard<std::mutex> lock(streams_mutex);
    for (auto& [index, f] : all_streams()) streams.push_back(f);
  }
  uint64_t done = last;
  std::deque<Flight> finished;  // released after the locks: dropping inputs frees buffers
  for (auto* sf : streams) {
    std::lock_guard<std::mutex> lock(sf->mutex);
    while (!sf->flights.empty() && sf->flights.front().fence && sf->flights.front().fence->done()) {
      finished.push_back(std::move(sf->flights.front()));
      sf->flights.pop_front();
    }
    if (!sf->flights.empty()) done = std::min(done, sf->flights.front().ticket - 1);
  }
  uint64_t prev = completed.load();
  while (done > prev && !completed.compare_exchange_weak(prev, done)) {
  }
  finished.clear();
  return done;
}

void synchronize_all() {
  std::vector<int> streams;
  {
    std::lock_guard<std::mutex> lock(streams_mutex);
    for (auto& [index, f] : all_streams()) streams.push_back(index);
  }
  // Frees no buffer itself (the allocator calls it holding its lock): the finished nodes'
  // inputs are let go by the next completed_tag.
  for (int s : streams) LAZULI_CUDA_CHECK(cudaStreamSynchronize(stream_of(s)));
}

}  // namespace lazuli::cuda
