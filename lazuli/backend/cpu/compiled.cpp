// CPU: fused elementwise programs (compile's Compiled nodes). The output is cut into tiles
// that fit in L1; each tile is loaded from the inputs (any layout, broadcast read with
// stride 0), run through every step while it stays in cache, and stored. So a chain of k
// ops reads and writes memory once instead of k times. Steps run the same scalar functors
// as the eager kernels (math.h), and the Highway vector code for the transcendental ones.
#include <cstring>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cpu/simd_math.h"
#include "lazuli/ops.h"  // broadcast_shapes
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

namespace {

// A fused program ready to run over one shape: how each input is read and each step's kernel.
struct Runner {
  const std::vector<FusedStep>& steps;
  size_t num_steps;  // the elementwise steps run per tile (a final Reduce is not one of them)
  std::vector<Source> sources;
  std::vector<StepKernel> kernels;
  std::vector<UnaryOp> unary_ops;

  Runner(const std::vector<array>& inputs, const std::vector<Dtype>& input_dtypes, const std::vector<FusedStep>& steps,
         size_t num_steps, const Shape& shape)
      : steps(steps), num_steps(num_steps) {
    const int ni = static_cast<int>(inputs.size());
    for (auto& in : inputs) sources.push_back(make_source(in, shape));
    for (size_t s = 0; s < num_steps; ++s) {
      unary_ops.push_back(unary_op(*steps[s].primitive));
      std::vector<Dtype> in;
      for (int a : steps[s].args) in.push_back(a < ni ? input_dtypes[a] : steps[a - ni].dtype);
      // The eager Unary kernel runs a transcendental's vector code on contiguous inputs only,
      // and the vector and scalar code may differ by an ulp: choose as it would, so that
      // compiled results equal eager ones bit for bit. Computed tiles are contiguous. (An
      // input contiguous in another order than row-major still may differ: eager groups its
      // elements into vectors in memory order, and the vector code sends a whole vector to
      // the scalar functor when one lane is out of its range.)
      const int a0 = steps[s].args[0];
      const bool vector = a0 >= ni || (inputs[a0].flags().contiguous && inputs[a0].data_size() == inputs[a0].size());
      kernels.push_back(step_kernel(*steps[s].primitive, in, steps[s].dtype, vector));
      if (!kernels.back()) throw std::logic_error("[compile] A fused step has no CPU kernel: " + steps[s].primitive->name());
    }
  }
  int registers() const { return static_cast<int>(sources.size() + num_steps); }

  // One thread's scratch: a tile per register, repeated values filled once.
  struct Scratch {
    std::vector<char> bytes;
    char* base;
    std::vector<const void*> reg;
    char* slot(int r) { return base + r * kSlot; }
  };
  Scratch scratch() const {
    Scratch sc{std::vector<char>(registers() * kSlot + 64), nullptr, std::vector<const void*>(registers())};
    sc.base = sc.bytes.data() + (64 - reinterpret_cast<uintptr_t>(sc.bytes.data()) % 64) % 64;
    for (size_t i = 0; i < sources.size(); ++i)
      if (sources[i].kind == Source::Scalar)
        for (int64_t k = 0; k < kTile; ++k)
          std::memcpy(sc.slot(static_cast<int>(i)) + k * sources[i].width, sources[i].base, sources[i].width);
    return sc;
  }

  // Computes elements [start, start + len) of every register into sc.reg.
  void run(Scratch& sc, int64_t start, int64_t len) const {
    const int ni = static_cast<int>(sources.size());
    for (int i = 0; i < ni; ++i) sc.reg[i] = load(sources[i], start, len, sc.slot(i));
    for (size_t s = 0; s < num_steps; ++s) {
      const void* args[3];
      for (size_t k = 0; k < steps[s].args.size(); ++k) args[k] = sc.reg[steps[s].args[k]];
      int r = ni + static_cast<int>(s);
      kernels[s](args, sc.slot(r), len, unary_ops[s]);
      sc.reg[r] = sc.slot(r);
    }
  }
};

// Whether reducing `in` to `out` (kept axes of size 1) sums runs of consecutive elements:
// the reduced axes are trailing ones, so element i goes to row i / (in.size / out.size).
bool reduces_trailing_axes(const Shape& in, const Shape& out) {
  int d = static_cast<int>(in.size()) - 1;
  while (d >= 0 && out[d] == 1) --d;
  for (; d >= 0; --d)
    if (out[d] != in[d]) return false;
  return true;
}

template <typename T>
double sum_tile(const void* p, int64_t n) {
  const T* x = static_cast<const T*>(p);
  T part[8] = {};  // eight partial sums the compiler keeps in vector registers
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += x[i + k];
  double total = 0;
  for (int k = 0; k < 8; ++k) total += part[k];
  for (; i < n; ++i) total += x[i];
  return total;
}

}  // namespace

bool Compiled::can_reduce(const array& node) {
  auto* r = node.has_primitive() ? dynamic_cast<const Reduce*>(&node.primitive()) : nullptr;
  if (!r || r->op() != ReduceOp::Sum || !node.siblings().empty()) return false;
  const array& in = node.inputs()[0];
  return in.dtype() == node.dtype() && (in.dtype() == float32 || in.dtype() == float64) &&
         reduces_trailing_axes(in.shape(), node.shape());
}

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const bool reduces = dynamic_cast<const Reduce*>(steps_.back().primitive.get()) != nullptr;
  if (reduces) return eval_reduction(inputs, outputs);
  const Shape& shape = outputs[0].shape();
  const int64_t n = static_cast<int64_t>(outputs[0].size());
  const int ni = static_cast<int>(inputs.size());
  Runner runner(inputs, input_dtypes_, steps_, steps_.size(), shape);

  // Outputs may take over the buffer of a dense input of their dtype nobody else reads:
  // each tile is read completely before it is stored, so in place is safe.
  std::vector<bool> donated(ni);
  for (size_t k = 0; k < outputs.size(); ++k) {
    bool done = false;
    for (int i = 0; i < ni && !done; ++i) {
      if (donated[i] || runner.sources[i].kind != Source::Dense || !(inputs[i].dtype() == outputs[k].dtype()) ||
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
    auto sc = runner.scratch();
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t start = t * kTile, len = std::min(kTile, n - start);
      runner.run(sc, start, len);
      for (size_t k = 0; k < outputs.size(); ++k) {
        size_t w = outputs[k].itemsize();
        std::memcpy(out_ptr[k] + start * w, sc.reg[outputs_[k]], len * w);
      }
    }
  });
}

// A sum whose input is computed by the elementwise steps: each row's tiles are computed and
// summed while in cache, never stored. (Shapes where the summed axes are not trailing,
// possible when a shapeless trace is replayed, store the elementwise result first.)
void Compiled::eval_reduction(const std::vector<array>& inputs, std::vector<array>& outputs) {
  Shape full;
  for (auto& in : inputs) full = broadcast_shapes(full, in.shape());
  array& out = outputs[0];
  const size_t last = steps_.size() - 1;
  if (!reduces_trailing_axes(full, out.shape())) {
    array values(full, steps_[last - 1].dtype, nullptr, {});
    std::vector<FusedStep> elementwise(steps_.begin(), steps_.end() - 1);
    std::vector<array> stored{values}, outs{out};
    Compiled(stream(), input_dtypes_, elementwise, {static_cast<int>(inputs.size() + last - 1)}).eval_cpu(inputs, stored);
    steps_[last].primitive->eval_cpu(stored, outs);
    return;
  }
  Runner runner(inputs, input_dtypes_, steps_, last, full);
  allocate(out);
  const int64_t rows = static_cast<int64_t>(out.size());
  const int64_t row_len = rows ? static_cast<int64_t>(shape_size(full)) / rows : 0;
  const int value = static_cast<int>(inputs.size() + last - 1);  // the register summed
  const bool f32 = out.dtype() == float32;
  auto sum_range = [&](Runner::Scratch& sc, int64_t row, int64_t begin, int64_t end) {
    double total = 0;
    for (int64_t c = begin; c < end; c += kTile) {
      int64_t len = std::min(kTile, end - c);
      runner.run(sc, row * row_len + c, len);
      total += f32 ? sum_tile<float>(sc.reg[value], len) : sum_tile<double>(sc.reg[value], len);
    }
    return total;
  };
  auto store = [&](int64_t row, double total) {
    if (f32) static_cast<float*>(out.raw_data())[row] = static_cast<float>(total);
    else static_cast<double*>(out.raw_data())[row] = total;
  };
  if (rows >= 4 * thread_count() || row_len <= kTile) {
    parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(row_len, 1)), [&](int64_t r0, int64_t r1) {
      auto sc = runner.scratch();
      for (int64_t r = r0; r < r1; ++r) store(r, sum_range(sc, r, 0, row_len));
    });
    return;
  }
  // Few long rows: split each row's tiles across the cores, then add the parts in order.
  const int64_t tiles = (row_len + kTile - 1) / kTile;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> parts(tiles);
    parallel_for(tiles, std::max<int64_t>(1, kGrain / kTile), [&](int64_t t0, int64_t t1) {
      auto sc = runner.scratch();
      for (int64_t t = t0; t < t1; ++t) parts[t] = sum_range(sc, r, t * kTile, std::min(row_len, (t + 1) * kTile));
    });
    double total = 0;
    for (double p : parts) total += p;
    store(r, total);
  }
}

}  // namespace lazuli
