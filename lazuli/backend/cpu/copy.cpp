// CPU: copies, type conversion, views (no data movement), concatenate, slice update, arange.
#include <cstring>
#include <numeric>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli {
namespace cpu {

array::Flags layout_flags(const Shape& shape, const Strides& strides) {
  array::Flags f{true, true, true};
  int64_t expect = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    if (strides[d] != expect) f.row_contiguous = false;
    expect *= shape[d];
  }
  expect = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (strides[d] != expect) f.col_contiguous = false;
    expect *= shape[d];
  }
  // Dense in some axis order (a transpose of a contiguous array): sort by stride.
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size)
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) dims.push_back({strides[d], shape[d]});
  std::sort(dims.begin(), dims.end());
  expect = 1;
  f.contiguous = true;
  for (auto [st, n] : dims) {
    if (st != expect) f.contiguous = false;
    expect *= n;
  }
  for (auto d : shape)
    if (d == 0) f = {true, true, true};
  return f;
}

Strides broadcast_strides(const array& a, const Shape& shape) {
  Strides st(shape.size(), 0);
  size_t off = shape.size() - a.ndim();
  for (size_t i = 0; i < a.ndim(); ++i) st[off + i] = a.shape()[i] == 1 ? 0 : a.strides()[i];
  return st;
}

void allocate(array& out) { out.set_data(allocator::malloc(out.nbytes())); }

bool allocate_like(const array& in, array& out) {
  if (in.flags().contiguous && in.shape() == out.shape() && in.data_size() == out.size()) {
    if (in.is_donatable() && in.itemsize() == out.itemsize()) {
      out.move_shared_buffer(in);
      return true;
    }
    out.set_data(allocator::malloc(in.data_size() * out.itemsize()), in.data_size(), in.strides(), in.flags());
    return true;
  }
  allocate(out);
  return false;
}

namespace {

template <typename Out, typename In>
void convert_runs(const array& src, array& dst, const Strides& dst_strides, int64_t dst_offset) {
  const In* s = static_cast<const In*>(const_cast<array&>(src).raw_data());
  Out* d = static_cast<Out*>(dst.raw_data()) + dst_offset;
  for_each_run<2>(src.shape(), {&dst_strides, &src.strides()}, [&](auto off, auto st, int64_t n) {
    Out* o = d + off[0];
    const In* i = s + off[1];
    if (st[0] == 1 && st[1] == 1) {
      if constexpr (std::is_same_v<In, Out>) std::memcpy(o, i, n * sizeof(In));
      else for (int64_t k = 0; k < n; ++k) o[k] = cast_value<Out>(i[k]);
    } else {
      for (int64_t k = 0; k < n; ++k) o[k * st[0]] = cast_value<Out>(i[k * st[1]]);
    }
  });
}

// Same-type copies only need the element size.
template <typename Word>
void move_runs(const array& src, array& dst, const Strides& dst_strides, int64_t dst_offset) {
  convert_runs<Word, Word>(src, dst, dst_strides, dst_offset);
}

}  // namespace

void copy_to(const array& src, array& dst, const Strides& dst_strides, int64_t dst_offset) {
  if (src.dtype() == dst.dtype()) {
    switch (src.itemsize()) {
      case 1: return move_runs<uint8_t>(src, dst, dst_strides, dst_offset);
      case 2: return move_runs<uint16_t>(src, dst, dst_strides, dst_offset);
      case 4: return move_runs<uint32_t>(src, dst, dst_strides, dst_offset);
      default: return move_runs<uint64_t>(src, dst, dst_strides, dst_offset);
    }
  }
  dispatch_dtype(dst.dtype(), [&](auto o) {
    dispatch_dtype(src.dtype(), [&](auto i) {
      convert_runs<decltype(o), decltype(i)>(src, dst, dst_strides, dst_offset);
    });
  });
}

// A view shares the input's buffer with new strides and offset.
static void make_view(const array& in, array& out, const Strides& strides, int64_t offset) {
  auto f = layout_flags(out.shape(), strides);
  out.copy_shared_buffer(in, strides, f, f.contiguous ? out.size() : in.data_size(), offset);
}

}  // namespace cpu
using namespace cpu;

void Copy::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.flags().row_contiguous && in.data_size() == in.size()) {
    out.copy_shared_buffer(in);
    return;
  }
  allocate(out);
  copy_to(in, out, out.strides(), 0);
}

void AsType::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  const void* src = const_cast<array&>(in).raw_data();  // before out may take in's buffer
  if (allocate_like(in, out)) {
    // Both dense with the same layout: convert the flat span (in place when donated).
    dispatch_dtype(out.dtype(), [&](auto o) {
      dispatch_dtype(in.dtype(), [&](auto i) {
        using O = decltype(o);
        using I = decltype(i);
        const I* s = static_cast<const I*>(src);
        O* d = static_cast<O*>(out.raw_data());
        parallel_for(in.data_size(), kGrain, [&](int64_t b, int64_t e) {
          for (int64_t k = b; k < e; ++k) d[k] = cast_value<O>(s[k]);
        });
      });
    });
    return;
  }
  copy_to(in, out, out.strides(), 0);
}

void View::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.itemsize() == out.itemsize()) {
    out.copy_shared_buffer(in);
    return;
  }
  // Different widths: the op made the input row-contiguous; the offset must also land on
  // an element boundary of the new type, else copy to a fresh buffer.
  array src = in;
  if ((in.offset() * int64_t(in.itemsize())) % int64_t(out.itemsize()) != 0) {
    src = array(in.shape(), in.dtype(), nullptr, {});
    allocate(src);
    copy_to(in, src, src.strides(), 0);
  }
  int64_t offset_bytes = src.offset() * int64_t(src.itemsize());
  auto strides = row_major_strides(out.shape());
  // copy_shared_buffer adds src's offset (in src elements); restate it in out elements.
  out.copy_shared_buffer(src, strides, layout_flags(out.shape(), strides), out.size(),
                         offset_bytes / int64_t(out.itemsize()) - src.offset());
}

void Broadcast::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  make_view(in, out, broadcast_strides(in, out.shape()), 0);
}

Strides Reshape::view_strides(const array& in, const Shape& shape) {
  if (in.flags().row_contiguous) return row_major_strides(shape);
  // Match runs of input dims to runs of output dims with equal element counts. A run of
  // input dims that is contiguous within itself can be re-split any way without a copy.
  std::vector<int64_t> is, ist;  // input dims other than size 1
  for (size_t d = 0; d < in.ndim(); ++d)
    if (in.shape()[d] != 1) is.push_back(in.shape()[d]), ist.push_back(in.strides()[d]);
  Strides out(shape.size(), 0);
  size_t i = 0, o = 0;
  while (o < shape.size()) {
    if (shape[o] == 1) {
      ++o;
      continue;
    }
    if (i >= is.size()) return {};
    size_t i0 = i, o0 = o;
    int64_t ni = is[i++], no = shape[o++];
    while (ni != no) {
      if (ni < no) {
        if (i >= is.size()) return {};
        ni *= is[i++];
      } else {
        if (o >= shape.size()) return {};
        no *= shape[o++];
      }
    }
    for (size_t k = i0; k + 1 < i; ++k)
      if (ist[k] != ist[k + 1] * is[k + 1]) return {};
    int64_t st = ist[i - 1];
    for (size_t k = o; k-- > o0;) {
      out[k] = st;
      st *= shape[k];
    }
  }
  return out;
}

void Reshape::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.size() == 0) {
    allocate(out);
    return;
  }
  auto strides = view_strides(in, out.shape());
  if (!strides.empty()) {
    make_view(in, out, strides, 0);
    return;
  }
  // Row-major order is the same in both shapes: write the input's elements in order.
  allocate(out);
  copy_to(in, out, row_major_strides(in.shape()), 0);
}

void Transpose::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  Strides st;
  for (int ax : axes_) st.push_back(in.strides()[ax]);
  make_view(in, outputs[0], st, 0);
}

void Slice::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (out.size() == 0) {
    allocate(out);
    return;
  }
  int64_t offset = 0;
  Strides st(in.ndim());
  for (size_t i = 0; i < in.ndim(); ++i) {
    offset += int64_t(start_[i]) * in.strides()[i];
    st[i] = in.strides()[i] * strides_[i];
  }
  make_view(in, out, st, offset);
}

void AsStrided::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  make_view(inputs[0], outputs[0], strides_, offset_);
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& src = inputs[0];
  auto& upd = inputs[1];
  auto& out = outputs[0];
  if (src.flags().row_contiguous && src.data_size() == src.size() && src.is_donatable()) {
    out.move_shared_buffer(src);
  } else {
    allocate(out);
    copy_to(src, out, out.strides(), 0);
  }
  if (upd.size() == 0) return;
  int64_t offset = 0;
  Strides st(out.ndim());
  for (size_t i = 0; i < out.ndim(); ++i) {
    offset += int64_t(start_[i]) * out.strides()[i];
    st[i] = out.strides()[i] * strides_[i];
  }
  copy_to(upd, out, st, offset);
}

void Concatenate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  int64_t offset = 0;
  for (auto& in : inputs) {
    copy_to(in, out, out.strides(), offset);
    offset += int64_t(in.shape()[axis_]) * out.strides()[axis_];
  }
}

void Arange::eval_cpu(const std::vector<array>&, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  dispatch_dtype(out.dtype(), [&](auto t) {
    using T = decltype(t);
    T* d = static_cast<T*>(out.raw_data());
    for (size_t i = 0; i < out.size(); ++i) d[i] = cast_value<T>(start_ + double(i) * step_);
  });
}

}  // namespace lazuli
