// Quantization: the Quantize, Dequantize, QuantizedMatmul, GatherQMM, ToFP8 and FromFP8
// primitives (shapes and transform rules) and the ops built on them. Kernels live in
// backend/cpu/quantized.cpp; the format is described in lazuli/quantized.h.
#include "lazuli/quantized.h"

#include <functional>

#include "lazuli/einsum.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/quantized.h"
#include "lazuli/transforms.h"

namespace lazuli {
using namespace detail;

const char* mode_name(QuantizationMode mode) {
  switch (mode) {
    case QuantizationMode::Affine: return "affine";
    case QuantizationMode::Mxfp4: return "mxfp4";
    case QuantizationMode::Mxfp8: return "mxfp8";
    case QuantizationMode::Nvfp4: return "nvfp4";
  }
  return "?";
}

namespace {

// ---- argument checks ---------------------------------------------------------------------

QuantParams params_for(const std::string& mode, std::optional<int> group_size, std::optional<int> bits,
                       const char* op) {
  QuantizationMode m;
  int gs = 64, b = 4;
  if (mode == "affine") m = QuantizationMode::Affine;
  else if (mode == "mxfp4") m = QuantizationMode::Mxfp4, gs = 32;
  else if (mode == "mxfp8") m = QuantizationMode::Mxfp8, gs = 32, b = 8;
  else if (mode == "nvfp4") m = QuantizationMode::Nvfp4, gs = 16;
  else fail(op, "Invalid quantization mode '" + mode + "'; use 'affine', 'mxfp4', 'mxfp8' or 'nvfp4'.");
  QuantParams p{group_size.value_or(gs), bits.value_or(b), m};
  if (m == QuantizationMode::Affine) {
    if (p.group_size != 32 && p.group_size != 64 && p.group_size != 128)
      fail(op, "The requested group size " + std::to_string(p.group_size) +
                   " is not supported for 'affine' quantization; use 32, 64 or 128.");
    if (p.bits < 2 || p.bits > 8 || p.bits == 7)
      fail(op, "The requested number of bits " + std::to_string(p.bits) +
                   " is not supported for 'affine' quantization; use 2, 3, 4, 5, 6 or 8.");
  } else {
    if (p.group_size != gs)
      fail(op, "'" + mode + "' quantization requires group size " + std::to_string(gs) + " but got " +
                   std::to_string(p.group_size) + ".");
    if (p.bits != b)
      fail(op, "'" + mode + "' quantization requires bits to be " + std::to_string(b) + " but got " +
                   std::to_string(p.bits) + ".");
  }
  return p;
}

bool affine(const QuantParams& p) { return p.mode == QuantizationMode::Affine; }

// Number of values a row of packed words holds (the logical last axis).
int32_t unpacked_length(const array& w, const QuantParams& p, const char* op) {
  int64_t bits_in_row = int64_t{w.shape(-1)} * 32;
  if (bits_in_row % p.bits != 0)
    fail(op, "The last axis of w (" + std::to_string(w.shape(-1)) + " uint32 words) does not hold a whole number of " +
                 std::to_string(p.bits) + "-bit values.");
  return static_cast<int32_t>(bits_in_row / p.bits);
}

// w (uint32, >= 2-D) against scales (and biases): same leading axes, one scale per group.
// Returns the logical length of w's rows.
int32_t check_packed(const array& w, const array& scales, const std::optional<array>& biases, const QuantParams& p,
                     const char* op) {
  if (w.dtype() != uint32)
    fail(op, "The quantized matrix w should be uint32 but received " + dtype_name(w.dtype()) + ".");
  if (w.ndim() < 2)
    fail(op, "The quantized matrix w must have at least 2 dimensions but has shape " + shape_str(w.shape()) + ".");
  int32_t k = unpacked_length(w, p, op);
  Shape expected = w.shape();
  expected.back() = k / p.group_size;
  if (k % p.group_size != 0 || scales.shape() != expected)
    fail(op, "Shape of scales " + shape_str(scales.shape()) + " does not match w " + shape_str(w.shape()) +
                 " with group_size=" + std::to_string(p.group_size) + " and bits=" + std::to_string(p.bits) +
                 " (expected " + shape_str(expected) + ").");
  if (affine(p)) {
    if (!biases) fail(op, "Biases must be provided for 'affine' quantization.");
    if (biases->shape() != scales.shape())
      fail(op, "Scales and biases should have the same shape; received scales " + shape_str(scales.shape()) +
                   " and biases " + shape_str(biases->shape()) + ".");
    if (!is_floating_point(scales.dtype()) || !is_floating_point(biases->dtype()))
      fail(op, "Only real floating scales and biases are supported but scales.dtype == " +
                   dtype_name(scales.dtype()) + " and biases.dtype == " + dtype_name(biases->dtype()) + ".");
  } else {
    if (biases) fail(op, std::string("Biases must be None for '") + mode_name(p.mode) + "' quantization.");
    if (scales.dtype() != uint8)
      fail(op, std::string("'") + mode_name(p.mode) + "' scales must be uint8 but received " +
                   dtype_name(scales.dtype()) + ".");
  }
  return k;
}

// The optional nvfp4 global scale as a float32 0-d array.
std::optional<array> check_global_scale(const std::optional<array>& g, const QuantParams& p, const char* op, S s) {
  if (!g) return std::nullopt;
  if (p.mode != QuantizationMode::Nvfp4)
    fail(op, std::string("global_scale is only supported for 'nvfp4' quantization, not '") + mode_name(p.mode) + "'.");
  if (g->size() != 1 || !is_floating_point(g->dtype()))
    fail(op, "global_scale must be a floating scalar but has dtype " + dtype_name(g->dtype()) + " and shape " +
                 shape_str(g->shape()) + ".");
  return reshape(astype(*g, float32, s), {}, s);
}

Shape batch_shape(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }
Shape with_tail(Shape batch, int32_t a, int32_t b) {
  batch.push_back(a);
  batch.push_back(b);
  return batch;
}

// ---- node builders (shared by the ops and the transform rules) ---------------------------

std::vector<array> quantize_node(const std::vector<array>& inputs, const QuantParams& p, S s) {
  auto prim = std::make_shared<Quantize>(to_stream(s), p);
  Dtype scale_t = affine(p) ? inputs[0].dtype() : uint8;
  std::vector<Dtype> dtypes{uint32, scale_t};
  if (affine(p)) dtypes.push_back(inputs[0].dtype());
  return array::make_arrays(prim->output_shapes(inputs), dtypes, prim, inputs);
}

array qmm_node(const std::vector<array>& inputs, const QuantParams& p, bool transpose, S s) {
  return make_node<QuantizedMatmul>(inputs, inputs[0].dtype(), s, p, transpose);
}

// The codes of w as float32 values on the logical grid (scale 1, bias 0; fp modes: the e2m1 /
// e4m3 values with unit scales): what the scales multiply.
array unit_codes(const array& w, const array& scales, const QuantParams& p, S s) {
  if (affine(p)) {
    array one = ones(scales.shape(), float32, s), zero = zeros(scales.shape(), float32, s);
    return make_node<Dequantize>({w, one, zero}, float32, s, p, float32);
  }
  // e8m0 code 127 is 2^0; e4m3 code 0x38 is 1.0.
  uint8_t unit = p.mode == QuantizationMode::Nvfp4 ? 0x38 : 127;
  return make_node<Dequantize>({w, full(scales.shape(), unit, uint8, s)}, float32, s, p, float32);
}

// Sums the last axis in groups: (..., K) -> (..., K / group_size).
array group_sum(const array& a, int group_size, S s) {
  Shape sh = a.shape();
  sh.back() /= group_size;
  sh.push_back(group_size);
  return sum(reshape(a, sh, s), -1, false, s);
}

// vmap by running f on each sample and stacking the results on axis 0.
std::pair<std::vector<array>, std::vector<int>> vmap_by_loop(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::function<std::vector<array>(const std::vector<array>&)>& f, S s) {
  int32_t batch = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) batch = inputs[i].shape()[axes[i]];
  std::vector<std::vector<array>> parts;
  for (int32_t b = 0; b < batch; ++b) {
    std::vector<array> sample;
    for (size_t i = 0; i < inputs.size(); ++i)
      sample.push_back(axes[i] < 0 ? inputs[i] : take(inputs[i], array(b, int32), axes[i], s));
    auto outs = f(sample);
    if (parts.empty()) parts.resize(outs.size());
    for (size_t j = 0; j < outs.size(); ++j) parts[j].push_back(outs[j]);
  }
  std::vector<array> out;
  for (auto& p : parts) out.push_back(stack(p, 0, s));
  return {out, std::vector<int>(out.size(), 0)};
}

// An input with its batch axis in front, or an unbatched one given a unit batch axis.
array batch_front(const array& x, int ax, S s) { return ax < 0 ? expand_dims(x, 0, s) : to_front(x, ax, s); }

}  // namespace

// ---- primitives: shapes and equivalence ------------------------------------------------

std::vector<Shape> Quantize::output_shapes(const std::vector<array>& inputs) const {
  const array& w = inputs[0];
  Shape wq = w.shape(), sc = w.shape();
  wq.back() = static_cast<int32_t>(int64_t{w.shape(-1)} * p_.bits / 32);
  sc.back() = w.shape(-1) / p_.group_size;
  if (affine(p_)) return {wq, sc, sc};
  return {wq, sc};
}

std::vector<Shape> Dequantize::output_shapes(const std::vector<array>& inputs) const {
  Shape out = inputs[0].shape();
  out.back() = static_cast<int32_t>(int64_t{out.back()} * 32 / p_.bits);
  return {out};
}

std::vector<Shape> QuantizedMatmul::output_shapes(const std::vector<array>& inputs) const {
  const array& w = inputs[1];
  int32_t n = transpose_ ? w.shape(-2) : static_cast<int32_t>(int64_t{w.shape(-1)} * 32 / p_.bits);
  Shape out = inputs[0].shape();
  out.back() = n;
  return {out};
}

std::vector<Shape> GatherQMM::output_shapes(const std::vector<array>& inputs) const {
  const array& x = inputs[0];
  const array& w = inputs[1];
  int32_t n = transpose_ ? w.shape(-2) : static_cast<int32_t>(int64_t{w.shape(-1)} * 32 / p_.bits);
  Shape out = inputs[inputs.size() - 2].shape();
  out.push_back(x.shape(-2));
  out.push_back(n);
  return {out};
}

bool Quantize::is_equivalent(const Primitive& o) const {
  auto* q = dynamic_cast<const Quantize*>(&o);
  return q && q->p_ == p_;
}
bool Dequantize::is_equivalent(const Primitive& o) const {
  auto* q = dynamic_cast<const Dequantize*>(&o);
  return q && q->p_ == p_ && q->dtype_ == dtype_;
}
bool QuantizedMatmul::is_equivalent(const Primitive& o) const {
  auto* q = dynamic_cast<const QuantizedMatmul*>(&o);
  return q && q->p_ == p_ && q->transpose_ == transpose_;
}
bool GatherQMM::is_equivalent(const Primitive& o) const {
  auto* q = dynamic_cast<const GatherQMM*>(&o);
  return q && q->p_ == p_ && q->transpose_ == transpose_;
}
bool ToFP8::is_equivalent(const Primitive& o) const { return dynamic_cast<const ToFP8*>(&o) != nullptr; }
bool FromFP8::is_equivalent(const Primitive& o) const {
  auto* q = dynamic_cast<const FromFP8*>(&o);
  return q && q->dtype_ == dtype_;
}

// ---- transform rules -------------------------------------------------------------------

// Quantize: its outputs are codes (and statistics of w that the codes index), treated as
// constants: zero derivatives, like the other rounding ops.
std::vector<array> Quantize::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int a : argnums) out.push_back(zeros_like(primals[a], stream()));
  return out;
}
std::vector<array> Quantize::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                 const std::vector<int>&) {
  auto outs = quantize_node(primals, p_, stream());
  std::vector<array> tangents;
  for (auto& o : outs) tangents.push_back(zeros(o.shape(), o.dtype(), stream()));
  return tangents;
}
std::pair<std::vector<array>, std::vector<int>> Quantize::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  QuantParams p = p_;
  Stream s = stream();
  if (axes[0] < 0 || (inputs.size() > 1 && axes[1] >= 0))
    return vmap_by_loop(inputs, axes, [p, s](const std::vector<array>& x) { return quantize_node(x, p, s); }, s);
  std::vector<array> in = inputs;
  in[0] = to_front(inputs[0], axes[0], s);
  auto outs = quantize_node(in, p_, s);
  return {outs, std::vector<int>(outs.size(), 0)};
}

// Dequantize is linear in (scales, biases) for fixed codes: d out = codes * d scales + d biases
// (broadcast over each group), and in the nvfp4 global scale.
std::vector<array> Dequantize::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  Stream s = stream();
  const array& g = cts[0];
  std::vector<array> out;
  for (int a : argnums) {
    const array& x = primals[a];
    if (!inexact(x)) {
      out.push_back(zeros_like(x, s));
    } else if (affine(p_) && a == 1) {
      array codes = unit_codes(primals[0], primals[1], p_, s);
      out.push_back(astype(group_sum(multiply(astype(g, float32, s), codes, s), p_.group_size, s), x.dtype(), s));
    } else if (affine(p_) && a == 2) {
      out.push_back(astype(group_sum(astype(g, float32, s), p_.group_size, s), x.dtype(), s));
    } else {  // the nvfp4 global scale: out = unit_dequantize * global_scale / (448 * 6)
      array unit = make_node<Dequantize>({primals[0], primals[1]}, float32, s, p_, float32);
      array dot = sum(multiply(astype(g, float32, s), unit, s), false, s);
      out.push_back(astype(reshape(divide(dot, array(448.f * 6.f), s), x.shape(), s), x.dtype(), s));
    }
  }
  return out;
}
std::vector<array> Dequantize::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  Stream s = stream();
  auto tangent = [&](int i) -> std::optional<array> {
    for (size_t k = 0; k < argnums.size(); ++k)
      if (argnums[k] == i && inexact(primals[i])) return tangents[k];
    return std::nullopt;
  };
  Shape out_shape = output_shapes(primals)[0];
  if (affine(p_)) {
    auto ts = tangent(1), tb = tangent(2);
    if (!ts && !tb) return {zeros(out_shape, dtype_, s)};
    array a = ts ? *ts : zeros_like(primals[1], s);
    array b = tb ? *tb : zeros_like(primals[2], s);
    return {make_node<Dequantize>({primals[0], a, b}, dtype_, s, p_, dtype_)};
  }
  auto tg = primals.size() > 2 ? tangent(2) : std::nullopt;
  if (!tg) return {zeros(out_shape, dtype_, s)};
  array unit = make_node<Dequantize>({primals[0], primals[1]}, float32, s, p_, float32);
  return {astype(multiply(unit, divide(*tg, array(448.f * 6.f), s), s), dtype_, s)};
}
std::pair<std::vector<array>, std::vector<int>> Dequantize::vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes) {
  Stream s = stream();
  QuantParams p = p_;
  Dtype t = dtype_;
  if (!affine(p_) && inputs.size() > 2 && axes[2] >= 0)
    return vmap_by_loop(inputs, axes, [p, t, s](const std::vector<array>& x) {
      return std::vector<array>{make_node<Dequantize>(x, t, s, p, t)};
    }, s);
  int32_t batch = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) batch = inputs[i].shape()[axes[i]];
  // Codes, scales and biases must share their leading axes: unbatched ones are repeated.
  std::vector<array> in;
  size_t packed = affine(p_) ? 3 : 2;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i >= packed) {
      in.push_back(inputs[i]);
      continue;
    }
    array x = batch_front(inputs[i], axes[i], s);
    Shape full_shape = x.shape();
    full_shape[0] = batch;
    in.push_back(broadcast_to(x, full_shape, s));
  }
  return {{make_node<Dequantize>(in, dtype_, s, p_, dtype_)}, {0}};
}

// QuantizedMatmul: linear in x, and (for affine) jointly linear in (scales, biases). The uint32
// codes have no derivative, and asking for one is an error, as in MLX.
namespace {
[[noreturn]] void no_weight_gradient(const char* op) {
  fail(op, "Cannot compute the gradient with respect to the quantized matrix w: its uint32 codes have no "
           "derivative. Differentiate with respect to x (or the scales and biases) instead.");
}
}  // namespace

std::vector<array> QuantizedMatmul::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                        const std::vector<int>& argnums, const std::vector<array>&) {
  Stream s = stream();
  const array& x = primals[0];
  const array& w = primals[1];
  const array& g = cts[0];
  std::vector<array> out;
  std::optional<array> dw;  // d loss / d dequantize(w), on w's logical grid
  auto weight_cotangent = [&]() {
    if (dw) return *dw;
    array g32 = astype(g, float32, s), x32 = astype(x, float32, s);
    if (w.ndim() == 2) {
      int32_t k = x.shape(-1), n = g.shape(-1);
      array x2 = reshape(x32, {-1, k}, s), g2 = reshape(g32, {-1, n}, s);
      dw = transpose_ ? matmul(transpose(g2, s), x2, s) : matmul(transpose(x2, s), g2, s);
    } else {
      dw = transpose_ ? matmul(swapaxes(g32, -1, -2, s), x32, s) : matmul(swapaxes(x32, -1, -2, s), g32, s);
    }
    return *dw;
  };
  for (int a : argnums) {
    if (a == 0) {
      std::vector<array> in = primals;
      in[0] = astype(g, x.dtype(), s);
      out.push_back(astype(qmm_node(in, p_, !transpose_, s), x.dtype(), s));
    } else if (a == 1) {
      no_weight_gradient("quantized_matmul");
    } else if (!inexact(primals[a])) {
      out.push_back(zeros_like(primals[a], s));
    } else if (a == 2) {
      array codes = unit_codes(w, primals[2], p_, s);
      out.push_back(astype(group_sum(multiply(weight_cotangent(), codes, s), p_.group_size, s), primals[2].dtype(), s));
    } else {
      out.push_back(astype(group_sum(weight_cotangent(), p_.group_size, s), primals[3].dtype(), s));
    }
  }
  return out;
}
std::vector<array> QuantizedMatmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) {
  Stream s = stream();
  std::optional<array> tx, ts, tb;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int a = argnums[k];
    if (a == 1) no_weight_gradient("quantized_matmul");
    if (!inexact(primals[a])) continue;
    (a == 0 ? tx : a == 2 ? ts : tb) = tangents[k];
  }
  std::optional<array> result;
  if (tx) {
    std::vector<array> in = primals;
    in[0] = astype(*tx, primals[0].dtype(), s);
    result = qmm_node(in, p_, transpose_, s);
  }
  if (ts || tb) {
    std::vector<array> in = primals;
    in[2] = ts ? astype(*ts, primals[2].dtype(), s) : zeros_like(primals[2], s);
    in[3] = tb ? astype(*tb, primals[3].dtype(), s) : zeros_like(primals[3], s);
    array part = qmm_node(in, p_, transpose_, s);
    result = result ? add(*result, part, s) : part;
  }
  if (!result) return {zeros(output_shapes(primals)[0], primals[0].dtype(), s)};
  return {*result};
}
std::pair<std::vector<array>, std::vector<int>> QuantizedMatmul::vmap(const std::vector<array>& inputs,
                                                                      const std::vector<int>& axes) {
  Stream s = stream();
  bool weights_batched = false;
  for (size_t i = 1; i < inputs.size(); ++i) weights_batched |= axes[i] >= 0;
  if (!weights_batched && inputs[1].ndim() == 2) {
    // Only x is batched and w is one matrix: x's batch axis is just more rows.
    std::vector<array> in = inputs;
    in[0] = to_front(inputs[0], axes[0], s);
    return {{qmm_node(in, p_, transpose_, s)}, {0}};
  }
  // Everything gets a leading batch axis (size 1 where unbatched) and the per-sample batch axes
  // are padded to one rank, so that the op's broadcasting lines samples up.
  array x = batch_front(inputs[0], axes[0], s);
  bool vector_x = x.ndim() == 2;  // samples of x are vectors
  if (vector_x) x = expand_dims(x, 1, s);
  std::vector<array> ws;
  for (size_t i = 1; i < inputs.size(); ++i) ws.push_back(batch_front(inputs[i], axes[i], s));
  size_t rank = std::max(x.ndim(), ws[0].ndim());
  auto pad = [&](array a) {
    while (a.ndim() < rank) a = expand_dims(a, 1, s);
    return a;
  };
  x = pad(x);
  for (auto& a : ws) a = pad(a);
  // The weights, scales and biases share their batch axes.
  Shape wbatch = batch_shape(ws[0]);
  for (auto& a : ws) wbatch = broadcast_shapes(wbatch, batch_shape(a));
  for (auto& a : ws) a = broadcast_to(a, with_tail(wbatch, a.shape(-2), a.shape(-1)), s);
  std::optional<array> biases = ws.size() > 2 ? std::optional<array>(ws[2]) : std::nullopt;
  array out = quantized_matmul(x, ws[0], ws[1], biases, transpose_, p_.group_size, p_.bits, mode_name(p_.mode), s);
  if (vector_x) out = squeeze(out, -2, s);
  return {{out}, {0}};
}

std::vector<array> GatherQMM::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  Stream s = stream();
  const array& x = primals[0];
  size_t n = primals.size();
  const array& lhs = primals[n - 2];
  std::vector<array> out;
  for (int a : argnums) {
    if (a == 0) {
      // out[i] = x[lhs[i]] @ W[rhs[i]](.T): each x matrix collects g[i] @ W[rhs[i]](.T)^T from
      // every i that reads it.
      const array& g = cts[0];
      Shape idx_shape = lhs.shape();
      int32_t count = static_cast<int32_t>(lhs.size());
      std::vector<array> in = primals;
      in[0] = astype(reshape(g, with_tail({count}, g.shape(-2), g.shape(-1)), s), x.dtype(), s);
      in[n - 2] = arange(0, count, uint32, s);
      in[n - 1] = reshape(primals[n - 1], {count}, s);
      array per_use = make_node<GatherQMM>(in, x.dtype(), s, p_, !transpose_);  // (count, M, K)
      int32_t bx = static_cast<int32_t>(x.size() / (int64_t{x.shape(-2)} * x.shape(-1)));
      array acc = zeros(with_tail({bx}, x.shape(-2), x.shape(-1)), x.dtype(), s);
      acc = scatter_add(acc, reshape(lhs, {count}, s), per_use, 0, s);
      out.push_back(reshape(acc, x.shape(), s));
    } else if (a == 1) {
      no_weight_gradient("gather_qmm");
    } else if (a >= static_cast<int>(n) - 2 || !inexact(primals[a])) {
      out.push_back(zeros_like(primals[a], s));
    } else {
      fail("gather_qmm", "Gradients with respect to the scales and biases are not supported; use "
                         "quantized_matmul for them.");
    }
  }
  return out;
}
std::vector<array> GatherQMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  Stream s = stream();
  size_t n = primals.size();
  std::optional<array> result;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int a = argnums[k];
    if (a == 0) {
      std::vector<array> in = primals;
      in[0] = astype(tangents[k], primals[0].dtype(), s);
      result = make_node<GatherQMM>(in, primals[0].dtype(), s, p_, transpose_);
    } else if (a == 1) {
      no_weight_gradient("gather_qmm");
    } else if (a < static_cast<int>(n) - 2 && inexact(primals[a])) {
      fail("gather_qmm", "Gradients with respect to the scales and biases are not supported; use "
                         "quantized_matmul for them.");
    }
  }
  if (!result) return {zeros(output_shapes(primals)[0], primals[0].dtype(), s)};
  return {*result};
}
// Batched gathers run sample by sample (correct, not fast), like take/scatter's.
std::pair<std::vector<array>, std::vector<int>> GatherQMM::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) {
  Stream s = stream();
  QuantParams p = p_;
  bool t = transpose_;
  return vmap_by_loop(inputs, axes, [p, t, s](const std::vector<array>& x) {
    return std::vector<array>{make_node<GatherQMM>(x, x[0].dtype(), s, p, t)};
  }, s);
}

// The fp8 conversions round to a code: no derivative.
std::vector<array> ToFP8::vjp(const std::vector<array>& primals, const std::vector<array>&,
                              const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> ToFP8::jvp(const std::vector<array>& primals, const std::vector<array>&,
                              const std::vector<int>&) {
  return {zeros(primals[0].shape(), uint8, stream())};
}
std::pair<std::vector<array>, std::vector<int>> ToFP8::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) {
  return {{make_node<ToFP8>(inputs, uint8, stream())}, {axes[0]}};
}
std::vector<array> FromFP8::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> FromFP8::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>&) {
  return {zeros(primals[0].shape(), dtype_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> FromFP8::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) {
  return {{make_node<FromFP8>(inputs, dtype_, stream(), dtype_)}, {axes[0]}};
}

// ---- ops -------------------------------------------------------------------------------

std::vector<array> quantize(const array& w, std::optional<int> group_size, std::optional<int> bits,
                            const std::string& mode, const std::optional<array>& global_scale, S s) {
  QuantParams p = params_for(mode, group_size, bits, "quantize");
  if (!is_floating_point(w.dtype()))
    fail("quantize", "Only real floating types can be quantized but w has dtype " + dtype_name(w.dtype()) + ".");
  if (w.ndim() < 2)
    fail("quantize", "The matrix to be quantized must have at least 2 dimensions but has shape " +
                         shape_str(w.shape()) + ".");
  if (w.shape(-1) % p.group_size != 0)
    fail("quantize", "The last dimension of the matrix (" + std::to_string(w.shape(-1)) +
                         ") needs to be divisible by the quantization group size " + std::to_string(p.group_size) +
                         "; w has shape " + shape_str(w.shape()) + ".");
  std::vector<array> inputs{w};
  if (auto g = check_global_scale(global_scale, p, "quantize", s)) inputs.push_back(*g);
  return quantize_node(inputs, p, s);
}

array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 const std::optional<array>& global_scale, std::optional<Dtype> dtype, S s) {
  QuantParams p = params_for(mode, group_size, bits, "dequantize");
  check_packed(w, scales, biases, p, "dequantize");
  if (dtype && !is_floating_point(*dtype))
    fail("dequantize", "Only real floating output types are supported but dtype == " + dtype_name(*dtype) + ".");
  Dtype t = dtype ? *dtype : affine(p) ? promote_types(scales.dtype(), biases->dtype()) : bfloat16;
  std::vector<array> inputs{w, scales};
  if (affine(p)) inputs.push_back(*biases);
  if (auto g = check_global_scale(global_scale, p, "dequantize", s)) inputs.push_back(*g);
  return make_node<Dequantize>(inputs, t, s, p, t);
}

array quantized_matmul(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
                       bool transpose, std::optional<int> group_size, std::optional<int> bits,
                       const std::string& mode, S s) {
  const char* op = "quantized_matmul";
  QuantParams p = params_for(mode, group_size, bits, op);
  int32_t k_packed = check_packed(w, scales, biases, p, op);
  Dtype t = affine(p) ? promote_types(x.dtype(), promote_types(scales.dtype(), biases->dtype())) : x.dtype();
  if (!is_floating_point(t))
    fail(op, "Only real floating types are supported but x.dtype() == " + dtype_name(x.dtype()) + ".");
  if (x.ndim() == 0) fail(op, "x must have at least 1 dimension.");
  int32_t k = transpose ? k_packed : w.shape(-2);
  int32_t n = transpose ? w.shape(-2) : k_packed;
  if (x.shape(-1) != k)
    fail(op, "Last dimension of x with shape " + shape_str(x.shape()) + " does not match the expanded quantized matrix (" +
                 std::to_string(k) + ", " + std::to_string(n) + ") computed from shape " + shape_str(w.shape()) +
                 " with group_size=" + std::to_string(p.group_size) + ", bits=" + std::to_string(p.bits) +
                 " and transpose=" + (transpose ? "true" : "false") + ".");
  array xt = astype(x, t, s);
  std::vector<array> inputs{xt, w, affine(p) ? astype(scales, t, s) : scales};
  if (affine(p)) inputs.push_back(astype(*biases, t, s));
  if (w.ndim() == 2) return qmm_node(inputs, p, transpose, s);
  // Batched weights: broadcast the batch axes of x and of the weights together.
  bool vector_x = x.ndim() == 1;
  if (vector_x) inputs[0] = reshape(xt, {1, k}, s);
  Shape batch = broadcast_shapes(batch_shape(inputs[0]), batch_shape(w));
  inputs[0] = broadcast_to(inputs[0], with_tail(batch, inputs[0].shape(-2), k), s);
  for (size_t i = 1; i < inputs.size(); ++i)
    inputs[i] = broadcast_to(inputs[i], with_tail(batch, inputs[i].shape(-2), inputs[i].shape(-1)), s);
  array out = qmm_node(inputs, p, transpose, s);
  return vector_x ? squeeze(out, -2, s) : out;
}

array gather_qmm(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
                 const std::optional<array>& lhs_indices, const std::optional<array>& rhs_indices, bool transpose,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 bool /*sorted_indices: a scheduling hint; the CPU kernel does not need it*/, S s) {
  if (!lhs_indices && !rhs_indices)
    return quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode, s);
  const char* op = "gather_qmm";
  QuantParams p = params_for(mode, group_size, bits, op);
  int32_t k_packed = check_packed(w, scales, biases, p, op);
  Dtype t = affine(p) ? promote_types(x.dtype(), promote_types(scales.dtype(), biases->dtype())) : x.dtype();
  if (!is_floating_point(t))
    fail(op, "Only real floating types are supported but x.dtype() == " + dtype_name(x.dtype()) + ".");
  if (x.ndim() < 2)
    fail(op, "x must have at least 2 dimensions but has shape " + shape_str(x.shape()) + ".");
  int32_t k = transpose ? k_packed : w.shape(-2);
  if (x.shape(-1) != k)
    fail(op, "Last dimension of x with shape " + shape_str(x.shape()) + " does not match the quantized matrix's " +
                 std::to_string(k) + " computed from shape " + shape_str(w.shape()) + " with group_size=" +
                 std::to_string(p.group_size) + ", bits=" + std::to_string(p.bits) + ".");
  auto default_indices = [&](const array& a) {
    Shape b = batch_shape(a);
    return reshape(arange(0, static_cast<double>(shape_size(b)), uint32, s), b, s);
  };
  array lhs = lhs_indices ? *lhs_indices : default_indices(x);
  array rhs = rhs_indices ? *rhs_indices : default_indices(w);
  if (!is_integral(lhs.dtype()) || lhs.dtype() == bool_)
    fail(op, "lhs_indices must be integers but have dtype " + dtype_name(lhs.dtype()) + ".");
  if (!is_integral(rhs.dtype()) || rhs.dtype() == bool_)
    fail(op, "rhs_indices must be integers but have dtype " + dtype_name(rhs.dtype()) + ".");
  Shape idx = broadcast_shapes(lhs.shape(), rhs.shape());
  lhs = broadcast_to(astype(lhs, uint32, s), idx, s);
  rhs = broadcast_to(astype(rhs, uint32, s), idx, s);
  std::vector<array> inputs{astype(x, t, s), w, affine(p) ? astype(scales, t, s) : scales};
  if (affine(p)) inputs.push_back(astype(*biases, t, s));
  inputs.push_back(lhs);
  inputs.push_back(rhs);
  return make_node<GatherQMM>(inputs, t, s, p, transpose);
}

// ---- qqmm: both operands quantized (composed of quantize, dequantize and matmul) ----------

namespace {

QuantParams qq_params(const std::string& mode, std::optional<int> group_size, std::optional<int> bits,
                      const char* op) {
  if (mode != "nvfp4" && mode != "mxfp8")
    fail(op, "Only 'nvfp4' and 'mxfp8' quantization modes are supported but '" + mode + "' was given.");
  return params_for(mode, group_size, bits, op);
}

void check_qq_float(const array& a, const char* name, const char* op) {
  Dtype t = a.dtype();
  if (t != float32 && t != float16 && t != bfloat16)
    fail(op, std::string("Non-quantized ") + name + " must be float32, float16 or bfloat16 but has dtype " +
                 dtype_name(t) + ".");
}

// a rounded through the quantization grid, as float32, with a straight-through gradient: the
// value is dequantize(quantize(a)) but the derivative is the identity (a - stop_gradient(a) is
// exactly zero and carries it).
array qq_round(const array& a, const QuantParams& p, const std::optional<array>& global_scale, S s) {
  array rows = a.ndim() == 1 ? reshape(a, {1, a.shape(0)}, s) : a;
  std::vector<array> inputs{rows};
  if (global_scale) inputs.push_back(*global_scale);
  std::vector<array> q = quantize_node(inputs, p, s);
  std::vector<array> deq_inputs{q[0], q[1]};
  if (global_scale) deq_inputs.push_back(*global_scale);
  array rounded = reshape(make_node<Dequantize>(deq_inputs, float32, s, p, float32), a.shape(), s);
  array a32 = astype(a, float32, s);
  return add(stop_gradient(rounded, s), subtract(a32, stop_gradient(a32, s), s), s);
}

// The rounded operands of qqmm / gather_qqmm as float32: x_q (..., K) and w_q (..., N, K).
std::pair<array, array> qq_operands(const array& x, const array& w, const std::optional<array>& scales,
                                    std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                                    const std::optional<array>& global_scale_x,
                                    const std::optional<array>& global_scale_w, const char* op, S s) {
  QuantParams p = qq_params(mode, group_size, bits, op);
  std::optional<array> gx = check_global_scale(global_scale_x, p, op, s);
  std::optional<array> gw = check_global_scale(global_scale_w, p, op, s);
  if (gx.has_value() != gw.has_value())
    fail(op, "For 'nvfp4', either both global_scale_x and global_scale_w must be given or neither.");
  check_qq_float(x, "x", op);
  if (x.ndim() == 0) fail(op, "x must have at least 1 dimension.");
  int32_t k;
  std::optional<array> w_rounded;
  if (w.dtype() == uint32) {
    if (!scales) fail(op, "scales must be given when w is quantized (uint32).");
    k = check_packed(w, *scales, std::nullopt, p, op);
    std::vector<array> inputs{w, *scales};
    if (gw) inputs.push_back(*gw);
    w_rounded = make_node<Dequantize>(inputs, float32, s, p, float32);
  } else {
    if (scales) fail(op, "scales must be None when w is not quantized (w has dtype " + dtype_name(w.dtype()) + ").");
    check_qq_float(w, "w", op);
    if (w.ndim() < 2) fail(op, "w must have at least 2 dimensions but has shape " + shape_str(w.shape()) + ".");
    k = w.shape(-1);
  }
  if (x.shape(-1) != k)
    fail(op, "Last dimension of x with shape " + shape_str(x.shape()) + " does not match the " + std::to_string(k) +
                 " columns of w (shape " + shape_str(w.shape()) + ").");
  if (k % p.group_size != 0)
    fail(op, "The inner dimension " + std::to_string(k) + " must be divisible by the group size " +
                 std::to_string(p.group_size) + " of '" + mode + "'.");
  if (!w_rounded) w_rounded = qq_round(w, p, gw, s);
  return {qq_round(x, p, gx, s), *w_rounded};
}

}  // namespace

std::pair<int, int> qq_config(const std::string& mode, std::optional<int> group_size, std::optional<int> bits,
                              const std::string& op) {
  QuantParams p = qq_params(mode, group_size, bits, op.c_str());
  return {p.group_size, p.bits};
}

array qqmm(const array& x, const array& w, const std::optional<array>& scales, std::optional<int> group_size,
           std::optional<int> bits, const std::string& mode, const std::optional<array>& global_scale_x,
           const std::optional<array>& global_scale_w, S s) {
  auto [xq, wq] = qq_operands(x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w, "qqmm", s);
  return astype(matmul(xq, swapaxes(wq, -1, -2, s), s), x.dtype(), s);
}

array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales,
                  const std::optional<array>& lhs_indices, const std::optional<array>& rhs_indices,
                  std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                  const std::optional<array>& global_scale_x, const std::optional<array>& global_scale_w,
                  bool sorted_indices, S s) {
  if (!lhs_indices && !rhs_indices)
    return qqmm(x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w, s);
  const char* op = "gather_qqmm";
  if (x.ndim() < 2) fail(op, "x must have at least 2 dimensions but has shape " + shape_str(x.shape()) + ".");
  for (const auto* idx : {&lhs_indices, &rhs_indices})
    if (*idx && (!is_integral((*idx)->dtype()) || (*idx)->dtype() == bool_))
      fail(op, std::string(idx == &lhs_indices ? "lhs" : "rhs") + "_indices must be integers but have dtype " +
                   dtype_name((*idx)->dtype()) + ".");
  auto [xq, wq] = qq_operands(x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w, op, s);
  array out = gather_mm(xq, swapaxes(wq, -1, -2, s), lhs_indices, rhs_indices, sorted_indices, s);
  return astype(out, x.dtype(), s);
}

array to_fp8(const array& x, S s) {
  if (!is_floating_point(x.dtype()))
    fail("to_fp8", "Only real floating types are supported but x.dtype() == " + dtype_name(x.dtype()) + ".");
  return make_node<ToFP8>({x}, uint8, s);
}

array from_fp8(const array& x, Dtype dtype, S s) {
  if (x.dtype() != uint8)
    fail("from_fp8", "Input must have type uint8 but x.dtype() == " + dtype_name(x.dtype()) + ".");
  if (!is_floating_point(dtype))
    fail("from_fp8", "Only real floating types are supported but dtype == " + dtype_name(dtype) + ".");
  return make_node<FromFP8>({x}, dtype, s, dtype);
}

}  // namespace lazuli

namespace lazuli {
QuantParams read_quant(Reader& r) {
  int group_size = r.i32(), bits = r.i32();
  auto mode = r.enumeration<QuantizationMode>(4);
  try {
    return params_for(mode_name(mode), group_size, bits, "import_function");
  } catch (const std::invalid_argument& e) {
    r.fail(e.what());
  }
}
namespace {
// (x, w, scales[, biases], ...) as quantized_matmul checks them; returns how many of the
// inputs are weights (w, scales[, biases]).
size_t read_qmm(Reader& r, const QuantParams& p, bool transpose, size_t extra) {
  size_t nw = affine(p) ? 3 : 2;
  r.arity(1 + nw + extra);
  try {
    std::optional<array> biases;
    if (affine(p)) biases = r.placeholder(3);
    int32_t k_packed = check_packed(r.placeholder(1), r.placeholder(2), biases, p, "import_function");
    const Shape &x = r.input_shape(0), &w = r.input_shape(1);
    int32_t k = transpose ? k_packed : w[w.size() - 2];
    if (x.empty() || x.back() != k) r.fail("quantized matmul's x " + detail::shape_str(x) + " does not fit w");
    if (!is_floating_point(r.in_dtype(0))) r.fail("quantized matmul's x is " + dtype_name(r.in_dtype(0)));
    r.outputs_like(0);
  } catch (const std::invalid_argument& e) {
    r.fail(e.what());
  }
  return nw;
}
}  // namespace
LAZULI_PRIMITIVE_READER(Quantize) {
  QuantParams p = read_quant(r);
  r.arity(1, 2);
  const Shape& w = r.input_shape(0);
  if (w.empty() || w.back() % p.group_size != 0) r.fail("Quantize of " + detail::shape_str(w));
  Dtype t = r.in_dtype(0);
  if (!is_floating_point(t)) r.fail("Quantize of " + dtype_name(t));
  r.expect_output(0, uint32), r.expect_output(1, affine(p) ? t : uint8);
  if (r.input_shapes.size() == 2 && shape_size(r.input_shape(1)) != 1) r.fail("Quantize's global scale is not a scalar");
  if (affine(p)) r.expect_output(2, t);
  return std::make_shared<Quantize>(s, p);
}
LAZULI_PRIMITIVE_READER(Dequantize) {
  QuantParams p = read_quant(r);
  Dtype dtype = r.dtype();
  r.arity(affine(p) ? 3 : 2, 3);
  r.expect_output(0, dtype);
  if (!affine(p) && r.input_shapes.size() == 3 && shape_size(r.input_shape(2)) != 1)
    r.fail("Dequantize's global scale is not a scalar");
  try {
    std::optional<array> biases;
    if (affine(p)) biases = r.placeholder(2);
    check_packed(r.placeholder(0), r.placeholder(1), biases, p, "import_function");
  } catch (const std::invalid_argument& e) {
    r.fail(e.what());
  }
  return std::make_shared<Dequantize>(s, p, dtype);
}
LAZULI_PRIMITIVE_READER(QuantizedMatmul) {
  QuantParams p = read_quant(r);
  bool transpose = r.boolean();
  read_qmm(r, p, transpose, 0);
  return std::make_shared<QuantizedMatmul>(s, p, transpose);
}
LAZULI_PRIMITIVE_READER(GatherQMM) {
  QuantParams p = read_quant(r);
  bool transpose = r.boolean();
  size_t n = r.input_shapes.size();
  read_qmm(r, p, transpose, 2);
  if (r.input_shape(n - 1) != r.input_shape(n - 2)) r.fail("GatherQMM's index arrays differ in shape");
  r.expect_input(n - 1, uint32), r.expect_input(n - 2, uint32);
  return std::make_shared<GatherQMM>(s, p, transpose);
}
LAZULI_PRIMITIVE_READER(ToFP8) {
  r.arity(1);
  r.expect_output(0, uint8);
  return std::make_shared<ToFP8>(s);
}
LAZULI_PRIMITIVE_READER(FromFP8) {
  r.arity(1);
  Dtype t = r.dtype();
  r.expect_input(0, uint8), r.expect_output(0, t);
  return std::make_shared<FromFP8>(s, t);
}
}  // namespace lazuli
