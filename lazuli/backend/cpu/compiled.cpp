// CPU: fused elementwise programs (compile's Compiled nodes). The output is cut into tiles
// that fit in L1; each tile is loaded from the inputs (any layout, broadcast read with
// stride 0), run through every step while it stays in cache, and stored. So a chain of k
// ops reads and writes memory once instead of k times. Steps run the same scalar functors
// as the eager kernels (math.h), and the Highway vector code for the transcendental ones.
#include <cstring>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cpu/simd_math.h"
#include "lazuli/primitives/compiled.h"

namespace lazuli {
using namespace cpu;

namespace {

constexpr int64_t kTile = 1024;  // elements: a tile of every register fits in L1/L2
constexpr size_t kSlot = kTile * 8;  // bytes of one register's tile (float64 at most)

// Computes n elements of one step from its argument tiles.
using StepKernel = void (*)(const void* const* args, void* out, int64_t n, UnaryOp op);

template <typename Op, typename T>
void unary_tile(const void* const* args, void* out, int64_t n, UnaryOp) {
  using R = decltype(Op{}(T{}));
  const T* x = static_cast<const T*>(args[0]);
  R* y = static_cast<R*>(out);
  Op op;
  for (int64_t i = 0; i < n; ++i) y[i] = op(x[i]);
}

template <typename T>
void simd_tile(const void* const* args, void* out, int64_t n, UnaryOp op) {
  simd_unary_serial(op, dtype_of<T>, args[0], out, static_cast<size_t>(n));
}

template <typename Op, typename T>
void binary_tile(const void* const* args, void* out, int64_t n, UnaryOp) {
  using R = decltype(Op{}(T{}, T{}));
  const T* a = static_cast<const T*>(args[0]);
  const T* b = static_cast<const T*>(args[1]);
  R* y = static_cast<R*>(out);
  Op op;
  for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
}

template <typename T>
void select_tile(const void* const* args, void* out, int64_t n, UnaryOp) {
  const bool* c = static_cast<const bool*>(args[0]);
  const T* a = static_cast<const T*>(args[1]);
  const T* b = static_cast<const T*>(args[2]);
  T* y = static_cast<T*>(out);
  for (int64_t i = 0; i < n; ++i) y[i] = c[i] ? a[i] : b[i];
}

template <typename From, typename To>
void cast_tile(const void* const* args, void* out, int64_t n, UnaryOp) {
  const From* x = static_cast<const From*>(args[0]);
  To* y = static_cast<To*>(out);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<To>(x[i]);
}

// The kernel of a step with result dtype `out` from arguments of dtype `in`, or nullptr
// when the fused kernels do not cover it. Fused dtypes: float32, float64, bool.
template <typename F>
StepKernel for_fused_type(Dtype t, F&& pick) {
  if (t == float32) return pick(float{});
  if (t == float64) return pick(double{});
  if (t == bool_) return pick(bool{});
  return nullptr;
}

template <typename Op>
StepKernel unary_kernel(Dtype in, Dtype out) {
  return for_fused_type(in, [&](auto t) -> StepKernel {
    using T = decltype(t);
    if constexpr ((Op::kinds & math::kind_of<T>) == 0) {
      return nullptr;
    } else {
      using R = decltype(Op{}(T{}));
      if (!(dtype_of<R> == out)) return nullptr;
      return &unary_tile<Op, T>;
    }
  });
}

template <typename Op>
StepKernel binary_kernel(Dtype in, Dtype out) {
  return for_fused_type(in, [&](auto t) -> StepKernel {
    using T = decltype(t);
    if constexpr ((Op::kinds & math::kind_of<T>) == 0) {
      return nullptr;
    } else {
      using R = decltype(Op{}(T{}, T{}));
      if (!(dtype_of<R> == out)) return nullptr;
      return &binary_tile<Op, T>;
    }
  });
}

bool is_identity(const Primitive& p) {
  return dynamic_cast<const Copy*>(&p) || dynamic_cast<const StopGradient*>(&p);
}

// `vector`: whether a unary op may run its vector code (see Compiled::eval_cpu).
StepKernel step_kernel(const Primitive& p, const std::vector<Dtype>& in, Dtype out, bool vector = true) {
  if (auto* u = dynamic_cast<const Unary*>(&p)) {
    if (vector && in[0] == out && (out == float32 || out == float64) && simd_supported(u->op()))
      return out == float32 ? &simd_tile<float> : &simd_tile<double>;
    switch (u->op()) {
#define LAZULI_UNARY_CASE(Name, opname) \
  case UnaryOp::Name: return unary_kernel<math::Name>(in[0], out);
      LAZULI_UNARY_OPS(LAZULI_UNARY_CASE)
#undef LAZULI_UNARY_CASE
    }
  }
  if (auto* b = dynamic_cast<const Binary*>(&p)) {
    if (!(in[0] == in[1])) return nullptr;
    switch (b->op()) {
#define LAZULI_BINARY_CASE(Name, opname) \
  case BinaryOp::Name: return binary_kernel<math::Name>(in[0], out);
      LAZULI_BINARY_OPS(LAZULI_BINARY_CASE)
#undef LAZULI_BINARY_CASE
    }
  }
  if (dynamic_cast<const Select*>(&p)) {
    if (!(in[0] == bool_ && in[1] == out && in[2] == out)) return nullptr;
    return for_fused_type(out, [](auto t) -> StepKernel { return &select_tile<decltype(t)>; });
  }
  if (dynamic_cast<const AsType*>(&p)) {
    return for_fused_type(in[0], [&](auto from) -> StepKernel {
      return for_fused_type(out, [](auto to) -> StepKernel { return &cast_tile<decltype(from), decltype(to)>; });
    });
  }
  if (is_identity(p))  // Copy, StopGradient: a cast to the same type
    return in[0] == out ? for_fused_type(out, [](auto t) -> StepKernel { return &cast_tile<decltype(t), decltype(t)>; })
                        : nullptr;
  return nullptr;
}

UnaryOp unary_op(const Primitive& p) {
  auto* u = dynamic_cast<const Unary*>(&p);
  return u ? u->op() : UnaryOp::Abs;
}

// Copies elements [start, start + n) of `in` read in the output's row-major order (with
// `strides`, 0 on broadcast axes) into dst. W is the element width.
template <typename W>
void gather_tile(const W* base, const Shape& shape, const Strides& strides, int64_t start, int64_t n, W* dst) {
  int nd = static_cast<int>(shape.size());
  std::vector<int64_t> idx(nd);
  int64_t off = 0, r = start;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = r % shape[d];
    r /= shape[d];
    off += idx[d] * strides[d];
  }
  const int64_t last = shape[nd - 1], step = strides[nd - 1];
  for (int64_t i = 0; i < n;) {
    int64_t run = std::min(n - i, last - idx[nd - 1]);
    if (step == 1) std::memcpy(dst + i, base + off, run * sizeof(W));
    else for (int64_t k = 0; k < run; ++k) dst[i + k] = base[off + k * step];
    i += run;
    off += run * step;
    idx[nd - 1] += run;
    for (int d = nd - 1; d > 0 && idx[d] == shape[d]; --d) {  // carry into the outer axes
      off += strides[d - 1] - shape[d] * strides[d];
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

// How one input is read: straight from its buffer (dense, same shape), as one repeated
// value, or gathered through its (broadcast) strides.
struct Source {
  const char* base;
  size_t width;
  enum Kind { Dense, Scalar, Strided } kind;
  Shape shape;  // collapsed output shape and input strides, for Strided
  Strides strides;
};

Source make_source(const array& in, const Shape& out_shape) {
  Source s{static_cast<const char*>(const_cast<array&>(in).raw_data()), in.itemsize(), Source::Strided, {}, {}};
  if (in.size() == 1) {
    s.kind = Source::Scalar;
  } else if (in.shape() == out_shape && in.flags().row_contiguous && in.data_size() == in.size()) {
    s.kind = Source::Dense;
  } else {
    // Drop size-1 axes and merge axes that stay contiguous in both orders.
    Strides st = broadcast_strides(in, out_shape);
    for (size_t d = 0; d < out_shape.size(); ++d) {
      if (out_shape[d] == 1) continue;
      if (!s.shape.empty() && s.strides.back() == st[d] * out_shape[d]) {
        s.shape.back() *= out_shape[d];
        s.strides.back() = st[d];
      } else {
        s.shape.push_back(out_shape[d]);
        s.strides.push_back(st[d]);
      }
    }
  }
  return s;
}

// A pointer to elements [start, start + n) of source s: into its buffer, or into `slot`.
const void* load(const Source& s, int64_t start, int64_t n, char* slot) {
  switch (s.kind) {
    case Source::Dense: return s.base + start * s.width;
    case Source::Scalar: return slot;  // filled once per thread
    case Source::Strided: break;
  }
  switch (s.width) {
    case 1: gather_tile(reinterpret_cast<const uint8_t*>(s.base), s.shape, s.strides, start, n, reinterpret_cast<uint8_t*>(slot)); break;
    case 4: gather_tile(reinterpret_cast<const uint32_t*>(s.base), s.shape, s.strides, start, n, reinterpret_cast<uint32_t*>(slot)); break;
    default: gather_tile(reinterpret_cast<const uint64_t*>(s.base), s.shape, s.strides, start, n, reinterpret_cast<uint64_t*>(slot)); break;
  }
  return slot;
}

}  // namespace

bool Compiled::can_fuse(const array& node) {
  if (!node.has_primitive() || !node.siblings().empty()) return false;
  std::vector<Dtype> in;
  for (auto& x : node.inputs()) in.push_back(x.dtype());
  return step_kernel(node.primitive(), in, node.dtype()) != nullptr;
}

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Shape& shape = outputs[0].shape();
  const int64_t n = static_cast<int64_t>(outputs[0].size());
  const int ni = static_cast<int>(inputs.size());
  const int nr = ni + static_cast<int>(steps_.size());

  std::vector<Source> sources;
  for (auto& in : inputs) sources.push_back(make_source(in, shape));
  std::vector<StepKernel> kernels;
  std::vector<UnaryOp> unary_ops;
  for (auto& step : steps_) {
    unary_ops.push_back(unary_op(*step.primitive));
    std::vector<Dtype> in;
    for (int a : step.args) in.push_back(a < ni ? input_dtypes_[a] : steps_[a - ni].dtype);
    // The eager Unary kernel runs a transcendental's vector code on contiguous inputs only,
    // and the vector and scalar code may differ by an ulp: choose as it would, so that
    // compiled results equal eager ones bit for bit. Computed tiles are contiguous. (An input
    // contiguous in another order than row-major still may differ: eager groups its elements
    // into vectors in memory order, and the vector code sends a whole vector to the scalar
    // functor when one lane is out of its range.)
    const int a0 = step.args[0];
    const bool vector = a0 >= ni || (inputs[a0].flags().contiguous && inputs[a0].data_size() == inputs[a0].size());
    kernels.push_back(step_kernel(*step.primitive, in, step.dtype, vector));
    if (!kernels.back()) throw std::logic_error("[compile] A fused step has no CPU kernel: " + step.primitive->name());
  }

  // Outputs may take over the buffer of a dense input of their dtype nobody else reads:
  // each tile is read completely before it is stored, so in place is safe.
  std::vector<bool> donated(ni);
  for (size_t k = 0; k < outputs.size(); ++k) {
    bool done = false;
    for (int i = 0; i < ni && !done; ++i) {
      if (donated[i] || sources[i].kind != Source::Dense || !(inputs[i].dtype() == outputs[k].dtype()) ||
          !inputs[i].is_donatable())
        continue;
      outputs[k].move_shared_buffer(inputs[i]);
      donated[i] = done = true;
    }
    if (!done) allocate(outputs[k]);
  }
  std::vector<char*> out_ptr;
  for (auto& o : outputs) out_ptr.push_back(static_cast<char*>(o.raw_data()));

  const int64_t tiles = (n + kTile - 1) / kTile;
  parallel_for(tiles, std::max<int64_t>(1, kGrain / kTile), [&](int64_t t0, int64_t t1) {
    std::vector<char> scratch(nr * kSlot + 64);
    char* slots = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
    auto slot = [&](int r) { return slots + r * kSlot; };
    for (int i = 0; i < ni; ++i)  // repeated values: fill their tile once
      if (sources[i].kind == Source::Scalar)
        for (int64_t k = 0; k < kTile; ++k) std::memcpy(slot(i) + k * sources[i].width, sources[i].base, sources[i].width);
    std::vector<const void*> reg(nr);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t start = t * kTile, len = std::min(kTile, n - start);
      for (int i = 0; i < ni; ++i) reg[i] = load(sources[i], start, len, slot(i));
      for (size_t s = 0; s < steps_.size(); ++s) {
        const void* args[3];
        for (size_t k = 0; k < steps_[s].args.size(); ++k) args[k] = reg[steps_[s].args[k]];
        int r = ni + static_cast<int>(s);
        kernels[s](args, slot(r), len, unary_ops[s]);
        reg[r] = slot(r);
      }
      for (size_t k = 0; k < outputs.size(); ++k) {
        size_t w = outputs[k].itemsize();
        std::memcpy(out_ptr[k] + start * w, reg[outputs_[k]], len * w);
      }
    }
  });
}

}  // namespace lazuli
