// CUDA backend: the host side of reductions, argmin/argmax, scans, sorts and arange
// (layouts; reduce.cu, scan.cu and sort.cu compute). Inputs are brought to the dense
// layouts the kernels take: (outer, reduced, inner) blocks for reductions and scans, lines
// along the last axis for sorts.
#include <algorithm>
#include <numeric>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/reduce.h"
#include "lazuli/primitives.h"
#include "lazuli/primitives/reduce.h"
#include "lazuli/serialize.h"

namespace lazuli::cuda {
namespace {

// A primitive's parameters, read back from its serialized form (the classes keep them
// private; write() is their one public statement, and export already relies on it).
struct Params {
  Writer w;
  Reader r;
  explicit Params(const Primitive& p) : w(written(p)), r(w.bytes().data(), w.bytes().size(), p.name()) {}
  static Writer written(const Primitive& p) {
    Writer w;
    p.write(w);
    return w;
  }
};

// A view of `a` with its dimensions in the order `perm`.
array permuted(const array& a, const std::vector<int>& perm) {
  Shape shape;
  Strides strides;
  for (int d : perm) shape.push_back(a.shape()[d]), strides.push_back(a.strides()[d]);
  array view(shape, a.dtype(), nullptr, {});
  view.copy_shared_buffer(a, strides, cpu::layout_flags(shape, strides), a.data_size(), 0);
  return view;
}
// The permutation that keeps the dimensions not in `last` in order and puts `last` after them.
std::vector<int> moving_last(int ndim, const std::vector<int>& last) {
  std::vector<int> perm;
  for (int d = 0; d < ndim; ++d)
    if (std::find(last.begin(), last.end(), d) == last.end()) perm.push_back(d);
  perm.insert(perm.end(), last.begin(), last.end());
  return perm;
}

int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

// ---- Reduce ------------------------------------------------------------------------------

void eval_reduce(Reduce& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  array x = inputs[0];
  // The reduced axes are those the (keepdims) output shrank; reducing a size-1 axis is a no-op.
  std::vector<int> axes;
  std::vector<bool> reduced(x.ndim(), false);
  for (int d = 0; d < static_cast<int>(x.ndim()); ++d)
    if (out.shape()[d] != x.shape()[d]) axes.push_back(d), reduced[d] = true;
  int64_t outer, red, inner;
  if (!row_major_dense(x) || !as_blocks(x.shape(), reduced, outer, red, inner)) {
    // A dense copy with the reduced axes last: a row reduction.
    x = dense(permuted(x, moving_last(static_cast<int>(x.ndim()), axes)), ctx.stream);
    red = 1;
    for (int a : axes) red *= inputs[0].shape()[a];
    inner = 1;
    outer = out.size();
  }
  launch_reduce(p.op(), x.dtype(), out.dtype(), data_of(x), out.raw_data(), outer, red, inner, ctx.stream);
}

void eval_argreduce(ArgReduce& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  const array& in = inputs[0];
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  Params params(p);
  bool is_max = params.r.enumeration<ArgReduceOp>(2) == ArgReduceOp::ArgMax;
  int axis = params.r.i32();
  Shape line_shape = in.shape();
  line_shape[axis] = 1;
  auto ix = make_indexer<2>(line_shape, {out.strides(), in.strides()}, p.name());
  launch_argreduce(is_max, in.dtype(), data_of(in), static_cast<uint32_t*>(out.raw_data()), out.size(),
                   in.shape()[axis], in.strides()[axis], ix, ctx.stream);
}

// ---- Scan --------------------------------------------------------------------------------

void eval_scan(Scan& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  Params params(p);
  auto op = params.r.enumeration<ScanOp>(5);
  int axis = params.r.i32();
  bool reverse = params.r.boolean(), inclusive = params.r.boolean();
  array x = dense(inputs[0], ctx.stream);
  const Shape& shape = x.shape();
  launch_scan(op, x.dtype(), data_of(x), out.raw_data(), product(shape, 0, axis), shape[axis],
              product(shape, axis + 1, shape.size()), reverse, inclusive, ctx.stream);
}

// ---- Sort, ArgSort, Partition, ArgPartition -----------------------------------------------

// Sorts lines along `axis` into out: values, or positions when `indices`. A partition's
// contract (the kth element where sorting puts it, smaller ones before, larger after) is
// met by the full sort, which also orders the two sides like ArgSort.
void sort_along(const array& in, array& out, int axis, bool indices, cudaStream_t s) {
  if (in.size() == 0) {
    cpu::allocate(out);
    return;
  }
  int nd = static_cast<int>(in.ndim());
  int64_t len = in.shape()[axis], lines = static_cast<int64_t>(in.size()) / len;
  auto perm = moving_last(nd, {axis});
  array x = axis == nd - 1 ? dense(in, s) : dense(permuted(in, perm), s);
  // The sorted lines, axis last: out itself when that is out's layout.
  array sorted = out;
  if (axis != nd - 1) sorted = array(x.shape(), out.dtype(), nullptr, {});
  cpu::allocate(sorted);
  launch_sort(in.dtype(), data_of(x), indices ? nullptr : sorted.raw_data(),
              indices ? static_cast<uint32_t*>(sorted.raw_data()) : nullptr, lines, len, s);
  if (axis == nd - 1) return;
  std::vector<int> inverse(nd);
  for (int d = 0; d < nd; ++d) inverse[perm[d]] = d;
  convert_into(permuted(sorted, inverse), out, s);
}

template <typename P, bool kIndices>
void eval_sort(P& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  Params params(p);
  if constexpr (std::is_same_v<P, Partition> || std::is_same_v<P, ArgPartition>) params.r.i32();  // kth
  sort_along(inputs[0], outs[0], params.r.i32(), kIndices, ctx.stream);
}

// ---- Arange, NumberOfElements ---------------------------------------------------------------

void eval_arange(Arange& p, const std::vector<array>&, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  Params params(p);
  double start = params.r.f64();
  params.r.f64();  // stop: the output's size already says it
  double step = params.r.f64();
  launch_arange(out.dtype(), start, step, out.raw_data(), out.size(), ctx.stream);
}

// A count from the input's shape, not its data: one scalar the host writes into managed
// memory, as the CPU kernel does.
void eval_number_of_elements(NumberOfElements& p, const std::vector<array>& inputs, std::vector<array>& outs,
                             const GpuContext&) {
  p.eval_cpu(inputs, outs);
}

}  // namespace

LAZULI_GPU_KERNEL(Reduce, eval_reduce);
LAZULI_GPU_KERNEL(ArgReduce, eval_argreduce);
LAZULI_GPU_KERNEL(Scan, eval_scan);
LAZULI_GPU_KERNEL(Sort, (eval_sort<Sort, false>));
LAZULI_GPU_KERNEL(ArgSort, (eval_sort<ArgSort, true>));
LAZULI_GPU_KERNEL(Partition, (eval_sort<Partition, false>));
LAZULI_GPU_KERNEL(ArgPartition, (eval_sort<ArgPartition, true>));
LAZULI_GPU_KERNEL(Arange, eval_arange);
LAZULI_GPU_KERNEL(NumberOfElements, eval_number_of_elements);

}  // namespace lazuli::cuda
