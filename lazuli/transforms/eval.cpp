// Evaluation: find the unevaluated part of the graph, then hand each node to its stream's
// worker in dependency order. A node waits on inputs made by other streams through their
// events; once run, it drops its inputs so the graph behind it can be freed.
#include "lazuli/device_memory.h"
#include "lazuli/ops.h"
#include "lazuli/primitives.h"
#include "lazuli/scheduler.h"
#include "lazuli/transforms/tape.h"
#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/device.h"
#endif

namespace lazuli {
namespace {

// Unscheduled nodes reachable from `outputs`, inputs before the nodes that read them.
std::vector<array> build_tape(const std::vector<array>& outputs) {
  std::vector<array> tape;
  detail::walk_graph(
      outputs, [](const array& a) { return a.status() == array::Status::unscheduled; },
      [&](array node) { tape.push_back(std::move(node)); });
  return tape;
}

// keep_graph: decided when the node was scheduled (inside a trace, the graph is kept even
// if the trace has ended by the time the node runs).
void run_node(array& node, const std::vector<std::shared_ptr<Event>>& waits, Event& done, bool keep_graph) {
  std::exception_ptr error;
  const Primitive& p = node.primitive();
  bool on_gpu = p.device() != Device::cpu;
  for (auto& w : waits) {
    // A GPU node after a producer on its own GPU stream needs only the host part: the
    // CUDA stream runs the two in order. Anything else waits for the device work too.
    auto e = w->wait_host_error();
    if (!e && w->fence() && !(on_gpu && w->fence()->stream == p.stream().index)) e = w->wait_error();
    if (e) error = e;
  }
  std::shared_ptr<DeviceFence> fence;
  auto outputs = node.outputs();  // before detach drops the siblings
  if (!error) {
    try {
      if (on_gpu) {
        node.primitive().eval_gpu(node.inputs(), outputs);
      } else if (auto staged = host_readable(node.inputs())) {
        node.primitive().eval_cpu(*staged, outputs);  // inputs in device-only memory (DLPack imports)
      } else {
        node.primitive().eval_cpu(node.inputs(), outputs);
      }
#ifdef LAZULI_CUDA
      if (on_gpu) fence = cuda::stream_fence(p.stream().index);
#endif
      for (auto& o : outputs)
        if (!keep_graph) o.detach();
    } catch (...) {
      error = std::current_exception();
    }
  }
  // The fence goes with the event before the outputs are marked available: whoever reads
  // an available array that a GPU may still be writing finds the fence and waits on it.
  done.set_fence(std::move(fence));
  if (!error)
    for (auto& o : outputs) o.set_status(array::Status::available);
  done.signal(error);
}

// Whether reading `a` must wait on its event: not yet available, or made by a GPU node
// whose kernels may still run (a fence, which is set before the status).
bool must_wait(const array& a) {
  if (!a.event()) return false;
  return a.status() != array::Status::available || a.event()->fence() != nullptr;
}

}  // namespace

// A node ready to run: what run_node takes.
struct Task {
  array node;
  std::vector<std::shared_ptr<Event>> waits;
  std::shared_ptr<Event> done;
  bool keep_graph;
};

// Consecutive nodes of one stream go to its worker as one batch (up to kBatch), which saves
// a queue hand-off per node; each still has its own event, and is let go once it has run.
constexpr size_t kBatch = 64;

void async_eval(std::vector<array> outputs) {
  auto tape = build_tape(outputs);
  std::vector<Task> batch;
  Stream batch_stream{0, Device::cpu};  // set with the first node
  auto flush = [&] {
    if (batch.empty()) return;
    scheduler::enqueue(batch_stream, [tasks = std::move(batch)]() mutable {
      for (auto& t : tasks) {
        Task task = std::move(t);  // dropped after it runs: its graph can be freed
        run_node(task.node, task.waits, *task.done, task.keep_graph);
      }
    });
    batch.clear();
  };
  for (auto& node : tape) {
    if (!node.has_primitive()) {
      flush();  // what was scheduled must run: its outputs wait on events
      if (detail::compile_tracing_depth() > 0)
        throw std::invalid_argument(
            "[compile] Cannot evaluate an array that depends on the inputs while compile traces the function "
            "(eval, item, printing or converting a traced value): the trace must not depend on values.");
      throw std::invalid_argument("[eval] An array with no data and no primitive cannot be evaluated.");
    }
    auto done = std::make_shared<Event>();
    std::vector<std::shared_ptr<Event>> waits;
    for (auto& in : node.inputs())
      if (must_wait(in)) waits.push_back(in.event());
    for (auto& o : node.outputs()) {
      o.set_event(done);
      o.set_status(array::Status::scheduled);
    }
    Stream stream = node.primitive().stream();
    if (!batch.empty() && (stream != batch_stream || batch.size() == kBatch)) flush();
    batch_stream = stream;
    bool keep_graph = node.is_tracer();
    batch.push_back({std::move(node), std::move(waits), std::move(done), keep_graph});
  }
  flush();
}

void eval(std::vector<array> outputs) {
  async_eval(outputs);
  for (auto& o : outputs) {
    if (o.status() != array::Status::available && !o.event())
      throw std::runtime_error("[eval] Array was scheduled without an event.");
    if (must_wait(o)) o.event()->wait();
  }
}

}  // namespace lazuli
