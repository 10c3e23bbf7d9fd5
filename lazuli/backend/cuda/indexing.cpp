// CUDA backend: the indexing primitives' host side (Take, Gather, Scatter, ScatterSlices,
// SliceUpdate, Concatenate) and DivMod; indexing.cu computes. Indices are wrapped and
// checked on the device before any element moves; a bad one raises what the CPU raises
// (the same exception and message), so no kernel ever reads or writes outside a buffer.
#include <cstring>
#include <functional>
#include <limits>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/common/scatter.h"
#include "lazuli/backend/cpu/index_util.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/backend/cuda/indexing.h"
#include "lazuli/primitives.h"
#include "lazuli/primitives/indexing.h"
#include "lazuli/serialize.h"

namespace lazuli::cuda {
namespace {

// A primitive's parameters, read back from what it writes for export (serialize.h): the
// classes keep them private, and this reads them without widening their interface.
class Params {
 public:
  explicit Params(const Primitive& p)
      : writer_(written(p)), reader_(writer_.bytes().data(), writer_.bytes().size(), p.name()) {}
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;
  Reader* operator->() { return &reader_; }

 private:
  static Writer written(const Primitive& p) {
    Writer w;
    p.write(w);
    return w;
  }
  Writer writer_;
  Reader reader_;
};

// One index array and the axis it indexes: valid wrapped values lie in [0, hi], and each
// adds value * stride to its window's start.
struct IndexAxis {
  array indices;
  int64_t dim, hi, stride;
};

// The element offset where each of the n windows starts (an int64 array of n, on the
// device). Before returning, waits for the checks and calls raise(k, indices, position) for
// the lowest bad position of the first index array holding one (raise throws).
array window_starts(const std::vector<IndexAxis>& axes, int64_t n, const GpuContext& ctx,
                    const std::function<void(size_t, const array&, int64_t)>& raise) {
  array starts({static_cast<int32_t>(n)}, int64, nullptr, {});
  cpu::allocate(starts);
  if (n == 0) return starts;
  LAZULI_CUDA_CHECK(cudaMemsetAsync(starts.raw_data(), 0, starts.nbytes(), ctx.stream));
  if (axes.empty()) return starts;  // one window, at the origin
  array first_bad({static_cast<int32_t>(axes.size())}, uint64, nullptr, {});
  cpu::allocate(first_bad);
  LAZULI_CUDA_CHECK(cudaMemsetAsync(first_bad.raw_data(), 0xFF, first_bad.nbytes(), ctx.stream));  // none yet
  auto* bad = static_cast<unsigned long long*>(first_bad.raw_data());
  std::vector<array> dense_indices;
  for (size_t k = 0; k < axes.size(); ++k) {
    dense_indices.push_back(dense(axes[k].indices, ctx.stream));
    launch_index_offsets(axes[k].indices.dtype(), data_of(dense_indices[k]), n, axes[k].dim, axes[k].hi,
                         axes[k].stride, static_cast<int64_t*>(starts.raw_data()), bad + k, ctx.stream);
  }
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  for (size_t k = 0; k < axes.size(); ++k)
    if (bad[k] != std::numeric_limits<unsigned long long>::max())
      raise(k, dense_indices[k], static_cast<int64_t>(bad[k]));
  return starts;
}

// The windows of a box of `shape` stepping the buffer by `strides`, one per start.
Windows windows_of(const Shape& shape, const Strides& strides, const array& starts, int64_t count, const char* op) {
  if (shape.size() > static_cast<size_t>(kMaxDims))
    throw std::invalid_argument(std::string("[") + op + "] The GPU kernels take at most " + std::to_string(kMaxDims) +
                                " dimensions; this array has " + std::to_string(shape.size()) + ".");
  Windows w;
  w.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < w.ndim; ++d) {
    w.shape[d] = shape[d];
    w.strides[d] = strides[d];
    w.size *= shape[d];
  }
  w.starts = static_cast<const int64_t*>(data_of(starts));
  w.count = count;
  return w;
}

// The windows of a take or scatter along an axis of a row-major (outer, dim, inner) buffer.
Windows axis_windows(const Blocks& b, const array& starts, int64_t n) {
  Windows w;
  w.ndim = 1;
  w.shape[0] = w.size = b.inner;
  w.strides[0] = 1;
  w.starts = static_cast<const int64_t*>(data_of(starts));
  w.count = n;
  w.block_step = b.dim * b.inner;
  return w;
}


// The raise of a general gather/scatter: the window must fit as well.
auto window_raise(const std::vector<int>& axes, const std::vector<IndexAxis>& ix, const char* op) {
  return [&axes, &ix, op](size_t k, const array& idx, int64_t i) {
    int64_t dim = ix[k].dim, hi = ix[k].hi;
    cpu::raise_out_of_range(op, cpu::index_text(idx, i), axes[k], dim,
                            hi == dim - 1 ? "" : " (a window of " + std::to_string(dim - hi) + " must fit)");
  };
}

// out starts as a copy of src, or takes src's buffer when nobody else reads it (as the CPU).
void start_from(const array& src, array& out, const GpuContext& ctx) {
  if (row_major_dense(src) && src.is_donatable()) out.move_shared_buffer(src);
  else convert_into(src, out, ctx.stream);
}

// The device's copy_to: src's elements written into out at dst_strides from dst_offset,
// converted to out's dtype first where they differ.
void copy_into(const array& src, array& out, const Strides& dst_strides, int64_t dst_offset, const GpuContext& ctx,
               const std::string& op) {
  if (src.size() == 0) return;
  array from = src;
  if (src.dtype() != out.dtype()) {
    from = array(src.shape(), out.dtype(), nullptr, {});
    convert_into(src, from, ctx.stream);
  }
  auto ix = make_indexer<2>(from.shape(), {dst_strides, cpu::broadcast_strides(from, from.shape())}, op);
  char* dst = static_cast<char*>(out.raw_data()) + dst_offset * static_cast<int64_t>(out.itemsize());
  launch_strided_copy(static_cast<int>(out.itemsize()), data_of(from), dst, static_cast<int64_t>(from.size()), ix,
                      ctx.stream);
}

void eval_take(Take& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  int axis = Params(p)->i32();
  Blocks b = blocks(in[0].shape(), axis);
  int64_t n = static_cast<int64_t>(in[1].size());
  std::vector<IndexAxis> ix{{in[1], b.dim, b.dim - 1, b.inner}};
  array starts = window_starts(ix, n, ctx, [&](size_t, const array& idx, int64_t i) {
    cpu::raise_out_of_range("take", cpu::index_text(idx, i), axis, b.dim);
  });
  if (out.size() == 0) return;
  array a = dense(in[0], ctx.stream);
  launch_gather(static_cast<int>(a.itemsize()), data_of(a), out.raw_data(), static_cast<int64_t>(out.size()),
                axis_windows(b, starts, n), ctx.stream);
}

void eval_gather(Gather& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  const array& a = in[0];
  Params params(p);
  std::vector<int> axes = params->ints();
  Shape window = params->ints();
  int64_t n = in.size() > 1 ? static_cast<int64_t>(in[1].size()) : 1;
  std::vector<IndexAxis> ix;
  for (size_t k = 0; k + 1 < in.size(); ++k) {
    int64_t dim = a.shape()[axes[k]];
    ix.push_back({in[k + 1], dim, dim - window[axes[k]], a.strides()[axes[k]]});
  }
  array starts = window_starts(ix, n, ctx, window_raise(axes, ix, "gather"));
  if (out.size() == 0) return;
  launch_gather(static_cast<int>(a.itemsize()), data_of(a), out.raw_data(), static_cast<int64_t>(out.size()),
                windows_of(window, a.strides(), starts, n, "gather"), ctx.stream);
}

void eval_scatter(Scatter& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  convert_into(in[0], out, ctx.stream);
  Params params(p);
  auto op = params->enumeration<ScatterOp>(5);
  int axis = params->i32();
  std::string name = p.name();
  Blocks b = blocks(out.shape(), axis);
  int64_t n = static_cast<int64_t>(in[1].size());
  std::vector<IndexAxis> ix{{in[1], b.dim, b.dim - 1, b.inner}};
  array starts = window_starts(ix, n, ctx, [&](size_t, const array& idx, int64_t i) {
    cpu::raise_out_of_range(name.c_str(), cpu::index_text(idx, i), axis, b.dim);
  });
  array upd = dense(in[2], ctx.stream);
  launch_scatter(op, out.dtype(), data_of(upd), out.raw_data(), static_cast<int64_t>(out.size()),
                 static_cast<int64_t>(upd.size()), axis_windows(b, starts, n), ctx.stream, name.c_str());
}

void eval_scatter_slices(ScatterSlices& p, const std::vector<array>& in, std::vector<array>& outs,
                         const GpuContext& ctx) {
  array& out = outs[0];
  start_from(in[0], out, ctx);
  Params params(p);
  auto op = params->enumeration<ScatterOp>(5);
  std::vector<int> axes = params->ints();
  const char* label = scatter_op_name(op);
  array upd = dense(in.back(), ctx.stream);
  size_t nd = out.ndim();
  Shape window(upd.shape().end() - nd, upd.shape().end());
  int64_t n = in.size() > 2 ? static_cast<int64_t>(in[1].size()) : 1;
  std::vector<IndexAxis> ix;
  for (size_t k = 0; k + 2 < in.size(); ++k) {
    int64_t dim = out.shape()[axes[k]];
    ix.push_back({in[k + 1], dim, dim - window[axes[k]], out.strides()[axes[k]]});
  }
  array starts = window_starts(ix, n, ctx, window_raise(axes, ix, label));
  launch_scatter(op, out.dtype(), data_of(upd), out.raw_data(), static_cast<int64_t>(out.size()),
                 static_cast<int64_t>(upd.size()), windows_of(window, out.strides(), starts, n, label), ctx.stream,
                 label);
}

void eval_slice_update(SliceUpdate& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  start_from(in[0], out, ctx);
  Params params(p);
  Shape start = params->ints();
  params->ints();  // stop: the update's shape already says where the slice ends
  Shape step = params->ints();
  int64_t offset = 0;
  Strides st(out.ndim());
  for (size_t d = 0; d < out.ndim(); ++d) {
    offset += int64_t(start[d]) * out.strides()[d];
    st[d] = out.strides()[d] * step[d];
  }
  copy_into(in[1], out, st, offset, ctx, "slice_update");
}

void eval_concatenate(Concatenate& p, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  int axis = Params(p)->i32();
  int64_t offset = 0;
  for (auto& a : in) {
    copy_into(a, out, out.strides(), offset, ctx, "concatenate");
    offset += int64_t(a.shape()[axis]) * out.strides()[axis];
  }
}

void eval_divmod(DivMod&, const std::vector<array>& in, std::vector<array>& outs, const GpuContext& ctx) {
  array &q = outs[0], &r = outs[1];
  cpu::allocate(q);
  cpu::allocate(r);
  auto ix = make_indexer<2>(
      q.shape(), {cpu::broadcast_strides(in[0], q.shape()), cpu::broadcast_strides(in[1], q.shape())}, "divmod");
  launch_divmod(in[0].dtype(), data_of(in[0]), data_of(in[1]), q.raw_data(), r.raw_data(),
                static_cast<int64_t>(q.size()), ix, ctx.stream);
}

}  // namespace

LAZULI_GPU_KERNEL(Take, eval_take);
LAZULI_GPU_KERNEL(Gather, eval_gather);
LAZULI_GPU_KERNEL(Scatter, eval_scatter);
LAZULI_GPU_KERNEL(ScatterSlices, eval_scatter_slices);
LAZULI_GPU_KERNEL(SliceUpdate, eval_slice_update);
LAZULI_GPU_KERNEL(Concatenate, eval_concatenate);
LAZULI_GPU_KERNEL(DivMod, eval_divmod);

}  // namespace lazuli::cuda
