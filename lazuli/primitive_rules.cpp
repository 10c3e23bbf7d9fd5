// The transform rules of every primitive: vjp (reverse), jvp (forward) and vmap. Rules are
// written with ops, so derivatives of derivatives and batched derivatives come for free.
// Ops without a derivative (comparisons, rounding, bitwise, argmax, integer casts) give
// zero cotangents and tangents.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives.h"
#include "lazuli/transforms.h"

namespace lazuli {
using detail::fail;
using detail::inexact;
using detail::make_node;
using detail::to_front;

// ---- defaults --------------------------------------------------------------------------

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&,
                                  const std::vector<array>&) {
  throw std::invalid_argument("[vjp] " + name() + " has no vjp rule.");
}
std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&) {
  throw std::invalid_argument("[jvp] " + name() + " has no jvp rule.");
}
std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>&, const std::vector<int>&) {
  throw std::invalid_argument("[vmap] " + name() + " has no vmap rule.");
}

namespace {

// Sum g down to `shape`, undoing broadcasting.
array unbroadcast(const array& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int extra = static_cast<int>(g.ndim() - shape.size());
  std::vector<int> axes;
  for (int i = 0; i < static_cast<int>(g.ndim()); ++i)
    if (i < extra || (shape[i - extra] == 1 && g.shape()[i] != 1)) axes.push_back(i);
  return reshape(sum(g, axes, true), shape);
}

array scalar_like(double v, const array& like) { return array(v, like.dtype()); }

// Tangent for input `i` (zeros when it has none), from the argnums/tangents lists.
array tangent_of(size_t i, const std::vector<array>& primals, const std::vector<array>& tangents,
                 const std::vector<int>& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == static_cast<int>(i)) return tangents[k];
  return zeros_like(primals[i]);
}

bool has_tangent(size_t i, const std::vector<int>& argnums) {
  return std::find(argnums.begin(), argnums.end(), static_cast<int>(i)) != argnums.end();
}

// Batched inputs moved to axis 0 and padded with unit axes so that they broadcast against
// the unbatched ones like their samples did.
std::vector<array> align_batched(const std::vector<array>& inputs, const std::vector<int>& axes, int& batch) {
  size_t sample_nd = 0;
  for (size_t i = 0; i < inputs.size(); ++i) sample_nd = std::max(sample_nd, inputs[i].ndim() - (axes[i] >= 0));
  std::vector<array> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] < 0) {
      out.push_back(inputs[i]);
      continue;
    }
    array x = to_front(inputs[i], axes[i]);
    batch = x.shape()[0];
    Shape shape{x.shape()[0]};
    shape.insert(shape.end(), sample_nd - (x.ndim() - 1), 1);
    shape.insert(shape.end(), x.shape().begin() + 1, x.shape().end());
    out.push_back(reshape(x, shape));
  }
  return out;
}

// A batched copy of an unbatched input: the batch axis in front.
array add_batch(const array& x, int batch) {
  Shape shape{batch};
  shape.insert(shape.end(), x.shape().begin(), x.shape().end());
  return broadcast_to(expand_dims(x, 0), shape);
}

array apply_unary(UnaryOp op, const array& x, StreamOrDevice s) {
  switch (op) {
#define LAZULI_APPLY(Name, fn) \
  case UnaryOp::Name: return fn(x, s);
    LAZULI_UNARY_OPS(LAZULI_APPLY)
#undef LAZULI_APPLY
  }
  return x;
}

array apply_binary(BinaryOp op, const array& a, const array& b, StreamOrDevice s) {
  switch (op) {
#define LAZULI_APPLY(Name, fn) \
  case BinaryOp::Name: return fn(a, b, s);
    LAZULI_BINARY_OPS(LAZULI_APPLY)
#undef LAZULI_APPLY
  }
  return a;
}

// d out / d x for the differentiable unary ops, written with ops; nullopt when the op
// has no derivative.
std::optional<array> unary_derivative(UnaryOp op, const array& x, const array& y, StreamOrDevice s) {
  auto c = [&](double v) { return scalar_like(v, x); };
  switch (op) {
    // Complex cotangents follow JAX's convention (as Multiply and Imag do): conj(x)/|x|.
    case UnaryOp::Abs: return sign(x.dtype() == complex64 ? conjugate(x, s) : x, s);
    case UnaryOp::Negative: return c(-1);
    case UnaryOp::Sqrt: return divide(c(0.5), y, s);
    case UnaryOp::Rsqrt: return multiply(c(-0.5), divide(y, x, s), s);
    case UnaryOp::Square: return multiply(c(2), x, s);
    case UnaryOp::Reciprocal: return negative(square(y, s), s);
    case UnaryOp::Exp: return y;
    case UnaryOp::Expm1: return add(y, c(1), s);
    case UnaryOp::Log: return reciprocal(x, s);
    case UnaryOp::Log1p: return reciprocal(add(x, c(1), s), s);
    case UnaryOp::Log2: return reciprocal(multiply(x, c(std::log(2.0)), s), s);
    case UnaryOp::Log10: return reciprocal(multiply(x, c(std::log(10.0)), s), s);
    case UnaryOp::Sin: return cos(x, s);
    case UnaryOp::Cos: return negative(sin(x, s), s);
    case UnaryOp::Tan: return add(c(1), square(y, s), s);
    case UnaryOp::ArcSin: return rsqrt(subtract(c(1), square(x, s), s), s);
    case UnaryOp::ArcCos: return negative(rsqrt(subtract(c(1), square(x, s), s), s), s);
    case UnaryOp::ArcTan: return reciprocal(add(c(1), square(x, s), s), s);
    case UnaryOp::Sinh: return cosh(x, s);
    case UnaryOp::Cosh: return sinh(x, s);
    case UnaryOp::Tanh: return subtract(c(1), square(y, s), s);
    case UnaryOp::ArcSinh: return rsqrt(add(square(x, s), c(1), s), s);
    case UnaryOp::ArcCosh: return rsqrt(subtract(square(x, s), c(1), s), s);
    case UnaryOp::ArcTanh: return reciprocal(subtract(c(1), square(x, s), s), s);
    case UnaryOp::Sigmoid: return multiply(y, subtract(c(1), y, s), s);
    case UnaryOp::Erf: return multiply(c(2.0 / std::sqrt(M_PI)), exp(negative(square(x, s), s), s), s);
    case UnaryOp::ErfInv: return multiply(c(std::sqrt(M_PI) / 2.0), exp(square(y, s), s), s);
    default: return std::nullopt;
  }
}

}  // namespace

// ---- elementwise -----------------------------------------------------------------------

std::vector<array> Unary::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                              const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cts[0];
  switch (op_) {
    case UnaryOp::Conjugate: return {conjugate(g, stream())};
    case UnaryOp::Real: return {astype(g, complex64, stream())};
    case UnaryOp::Imag: return {multiply(astype(g, complex64, stream()), array(complex64_t(0.f, -1.f)), stream())};
    default: break;
  }
  if (!inexact(x)) return {zeros_like(x, stream())};
  auto d = unary_derivative(op_, x, outputs[0], stream());
  if (!d) return {zeros_like(x, stream())};
  return {multiply(g, *d, stream())};
}

std::vector<array> Unary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>&) {
  const array& x = primals[0];
  const array& t = tangents[0];
  switch (op_) {
    case UnaryOp::Conjugate: return {conjugate(t, stream())};
    case UnaryOp::Real: return {real(t, stream())};
    case UnaryOp::Imag: return {imag(t, stream())};
    default: break;
  }
  array y = apply_unary(op_, x, stream());
  if (!inexact(x) || !inexact(y)) return {zeros_like(y, stream())};
  auto d = unary_derivative(op_, x, y, stream());
  if (!d) return {zeros_like(y, stream())};
  array dy = multiply(t, *d, stream());
  // A real function of a complex input (abs) moves along the real part.
  if (dy.dtype() == complex64 && y.dtype() != complex64) dy = real(dy, stream());
  return {dy};
}

std::pair<std::vector<array>, std::vector<int>> Unary::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) {
  return {{apply_unary(op_, inputs[0], stream())}, {axes[0]}};
}

namespace {
// Partial derivatives (d out/d a, d out/d b), broadcast to the output; nullopt for ops
// without a derivative.
std::optional<std::pair<array, array>> binary_partials(BinaryOp op, const array& a, const array& b, const array& y,
                                                       StreamOrDevice s) {
  auto c = [&](double v) { return scalar_like(v, y); };
  auto one = ones_like(y, s);
  switch (op) {
    case BinaryOp::Add: return std::make_pair(one, one);
    case BinaryOp::Subtract: return std::make_pair(one, negative(one, s));
    case BinaryOp::Multiply: return std::make_pair(broadcast_to(b, y.shape(), s), broadcast_to(a, y.shape(), s));
    case BinaryOp::Divide:
      return std::make_pair(broadcast_to(reciprocal(b, s), y.shape(), s), negative(divide(y, b, s), s));
    case BinaryOp::Remainder:
      return std::make_pair(one, negative(floor_divide(a, b, s), s));
    case BinaryOp::Power: {
      array safe_log = where(greater(a, c(0), s), log(where(greater(a, c(0), s), a, c(1), s), s), c(0), s);
      return std::make_pair(multiply(b, power(a, subtract(b, c(1), s), s), s), multiply(y, safe_log, s));
    }
    case BinaryOp::Maximum: {
      array first = greater(a, b, s);
      return std::make_pair(astype(first, y.dtype(), s), astype(logical_not(first, s), y.dtype(), s));
    }
    case BinaryOp::Minimum: {
      array first = less(a, b, s);
      return std::make_pair(astype(first, y.dtype(), s), astype(logical_not(first, s), y.dtype(), s));
    }
    case BinaryOp::ArcTan2: {
      array r2 = add(square(a, s), square(b, s), s);
      return std::make_pair(divide(b, r2, s), negative(divide(a, r2, s), s));
    }
    case BinaryOp::LogAddExp:
      return std::make_pair(exp(subtract(a, y, s), s), exp(subtract(b, y, s), s));
    default: return std::nullopt;
  }
}
}  // namespace

std::vector<array> Binary::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& g = cts[0];
  std::vector<array> out;
  if (inexact(outputs[0]) && (op_ == BinaryOp::Add || op_ == BinaryOp::Subtract)) {
    // Linear with unit partials: pass the cotangent through (no multiply by ones).
    for (int arg : argnums) {
      array d = (arg == 1 && op_ == BinaryOp::Subtract) ? negative(g, stream()) : g;
      out.push_back(unbroadcast(d, primals[arg].shape()));
    }
    return out;
  }
  auto p = inexact(outputs[0]) ? binary_partials(op_, primals[0], primals[1], outputs[0], stream()) : std::nullopt;
  for (int arg : argnums) {
    const array& x = primals[arg];
    if (!p) {
      out.push_back(zeros_like(x, stream()));
      continue;
    }
    out.push_back(unbroadcast(multiply(g, arg == 0 ? p->first : p->second, stream()), x.shape()));
  }
  return out;
}

std::vector<array> Binary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  array y = apply_binary(op_, primals[0], primals[1], stream());
  auto p = inexact(y) ? binary_partials(op_, primals[0], primals[1], y, stream()) : std::nullopt;
  if (!p) return {zeros_like(y, stream())};
  array t = zeros_like(y, stream());
  if (has_tangent(0, argnums)) t = add(t, multiply(tangent_of(0, primals, tangents, argnums), p->first, stream()), stream());
  if (has_tangent(1, argnums)) t = add(t, multiply(tangent_of(1, primals, tangents, argnums), p->second, stream()), stream());
  return {t};
}

std::pair<std::vector<array>, std::vector<int>> Binary::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  int batch = 0;
  auto in = align_batched(inputs, axes, batch);
  return {{apply_binary(op_, in[0], in[1], stream())}, {0}};
}

std::vector<array> DivMod::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  // Only the remainder has a derivative: d r/d a = 1, d r/d b = -floor(a / b).
  const array& gr = cts[1];
  std::vector<array> out;
  for (int arg : argnums) {
    const array& x = primals[arg];
    if (!inexact(x)) out.push_back(zeros_like(x, stream()));
    else if (arg == 0) out.push_back(unbroadcast(gr, x.shape()));
    else out.push_back(unbroadcast(negative(multiply(gr, outputs[0], stream()), stream()), x.shape()));
  }
  return out;
}

std::vector<array> DivMod::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  auto qr = divmod(primals[0], primals[1], stream());
  if (!inexact(qr[0])) return {zeros_like(qr[0], stream()), zeros_like(qr[1], stream())};
  array ta = tangent_of(0, primals, tangents, argnums), tb = tangent_of(1, primals, tangents, argnums);
  array tr = subtract(ta, multiply(tb, qr[0], stream()), stream());
  return {zeros_like(qr[0], stream()), broadcast_to(tr, qr[1].shape(), stream())};
}

std::pair<std::vector<array>, std::vector<int>> DivMod::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  int batch = 0;
  auto in = align_batched(inputs, axes, batch);
  return {divmod(in[0], in[1], stream()), {0, 0}};
}

std::vector<array> Select::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = primals[0];
  const array& g = cts[0];
  array zero = zeros({}, g.dtype(), stream());
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(zeros_like(c, stream()));
    else if (arg == 1) out.push_back(unbroadcast(where(c, g, zero, stream()), primals[1].shape()));
    else out.push_back(unbroadcast(where(c, zero, g, stream()), primals[2].shape()));
  }
  return out;
}

std::vector<array> Select::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  return {where(primals[0], tangent_of(1, primals, tangents, argnums), tangent_of(2, primals, tangents, argnums),
                stream())};
}

std::pair<std::vector<array>, std::vector<int>> Select::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  int batch = 0;
  auto in = align_batched(inputs, axes, batch);
  return {{where(in[0], in[1], in[2], stream())}, {0}};
}

std::vector<array> AsType::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  if (!inexact(x) || is_integral(dtype_)) return {zeros_like(x, stream())};
  return {astype(cts[0], x.dtype(), stream())};
}
std::vector<array> AsType::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>&) {
  if (!inexact(primals[0]) || is_integral(dtype_)) return {zeros(primals[0].shape(), dtype_, stream())};
  return {astype(tangents[0], dtype_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> AsType::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  return {{astype(inputs[0], dtype_, stream())}, {axes[0]}};
}

std::vector<array> View::vjp(const std::vector<array>& primals, const std::vector<array>&, const std::vector<int>&,
                             const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};  // reinterpreting bits has no derivative
}
std::vector<array> View::jvp(const std::vector<array>& primals, const std::vector<array>&, const std::vector<int>&) {
  return {zeros_like(view(primals[0], dtype_, stream()), stream())};
}
std::pair<std::vector<array>, std::vector<int>> View::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) {
  return {{view(to_front(inputs[0], axes[0]), dtype_, stream())}, {0}};
}

std::vector<array> Copy::vjp(const std::vector<array>&, const std::vector<array>& cts, const std::vector<int>&,
                             const std::vector<array>&) {
  return {cts[0]};
}
std::vector<array> Copy::jvp(const std::vector<array>&, const std::vector<array>& tangents, const std::vector<int>&) {
  return {tangents[0]};
}
std::pair<std::vector<array>, std::vector<int>> Copy::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) {
  return {{copy(inputs[0], stream())}, {axes[0]}};
}

std::vector<array> StopGradient::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> StopGradient::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&) {
  return {zeros_like(primals[0], stream())};
}
std::pair<std::vector<array>, std::vector<int>> StopGradient::vmap(const std::vector<array>& inputs,
                                                                   const std::vector<int>& axes) {
  return {{stop_gradient(inputs[0], stream())}, {axes[0]}};
}

// ---- views and data movement -----------------------------------------------------------

std::vector<array> Broadcast::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {unbroadcast(cts[0], primals[0].shape())};
}
std::vector<array> Broadcast::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {broadcast_to(tangents[0], shape_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Broadcast::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  Shape padded{x.shape()[0]};
  padded.insert(padded.end(), shape_.size() - (x.ndim() - 1), 1);
  padded.insert(padded.end(), x.shape().begin() + 1, x.shape().end());
  Shape target{x.shape()[0]};
  target.insert(target.end(), shape_.begin(), shape_.end());
  return {{broadcast_to(reshape(x, padded, stream()), target, stream())}, {0}};
}

std::vector<array> Reshape::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                const std::vector<int>&, const std::vector<array>&) {
  return {reshape(cts[0], primals[0].shape(), stream())};
}
std::vector<array> Reshape::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                const std::vector<int>&) {
  return {reshape(tangents[0], shape_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Reshape::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  Shape shape{x.shape()[0]};
  shape.insert(shape.end(), shape_.begin(), shape_.end());
  return {{reshape(x, shape, stream())}, {0}};
}

std::vector<array> Transpose::vjp(const std::vector<array>&, const std::vector<array>& cts, const std::vector<int>&,
                                  const std::vector<array>&) {
  std::vector<int> inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = static_cast<int>(i);
  return {transpose(cts[0], inverse, stream())};
}
std::vector<array> Transpose::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {transpose(tangents[0], axes_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Transpose::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) {
  std::vector<int> perm{0};
  for (int a : axes_) perm.push_back(a + 1);
  return {{transpose(to_front(inputs[0], axes[0]), perm, stream())}, {0}};
}

namespace {
Shape with_front(int32_t v, const Shape& s) {
  Shape out{v};
  out.insert(out.end(), s.begin(), s.end());
  return out;
}
}  // namespace

std::vector<array> Slice::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                              const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  return {make_node<SliceUpdate>({zeros_like(x, stream()), cts[0]}, x.dtype(), stream(), start_, stop_, strides_)};
}
std::vector<array> Slice::jvp(const std::vector<array>&, const std::vector<array>& tangents, const std::vector<int>&) {
  return {make_node<Slice>({tangents[0]}, tangents[0].dtype(), stream(), start_, stop_, strides_)};
}
std::pair<std::vector<array>, std::vector<int>> Slice::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  return {{make_node<Slice>({x}, x.dtype(), stream(), with_front(0, start_), with_front(x.shape()[0], stop_),
                            with_front(1, strides_))},
          {0}};
}

std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cts[0];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0)
      out.push_back(make_node<SliceUpdate>({g, zeros_like(primals[1], stream())}, g.dtype(), stream(), start_, stop_,
                                           strides_));
    else
      out.push_back(make_node<Slice>({g}, g.dtype(), stream(), start_, stop_, strides_));
  }
  return out;
}
std::vector<array> SliceUpdate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  array ts = tangent_of(0, primals, tangents, argnums), tu = tangent_of(1, primals, tangents, argnums);
  return {make_node<SliceUpdate>({ts, astype(tu, ts.dtype(), stream())}, ts.dtype(), stream(), start_, stop_, strides_)};
}
std::pair<std::vector<array>, std::vector<int>> SliceUpdate::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) {
  int batch = axes[0] >= 0 ? inputs[0].shape()[axes[0]] : inputs[1].shape()[axes[1]];
  array src = axes[0] >= 0 ? to_front(inputs[0], axes[0]) : add_batch(inputs[0], batch);
  array upd = axes[1] >= 0 ? to_front(inputs[1], axes[1]) : add_batch(inputs[1], batch);
  return {{make_node<SliceUpdate>({src, upd}, src.dtype(), stream(), with_front(0, start_), with_front(batch, stop_),
                                  with_front(1, strides_))},
          {0}};
}

std::vector<array> AsStrided::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                  const std::vector<int>&, const std::vector<array>&) {
  // Each output element reads one input element: add the cotangent back at the positions
  // the view reads (a scatter-add, so elements read twice get both contributions).
  const array& x = primals[0];
  int n = static_cast<int>(x.size());
  array positions = as_strided(reshape(arange(0, n, stream()), x.shape(), stream()), shape_, strides_, offset_, stream());
  array g = scatter_add(zeros({n}, cts[0].dtype(), stream()), reshape(positions, {-1}, stream()),
                        reshape(cts[0], {-1}, stream()), 0, stream());
  return {reshape(g, x.shape(), stream())};
}
std::vector<array> AsStrided::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {as_strided(tangents[0], shape_, strides_, offset_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> AsStrided::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  int64_t sample = x.shape()[0] ? static_cast<int64_t>(x.size() / x.shape()[0]) : 0;
  Strides st{sample};
  st.insert(st.end(), strides_.begin(), strides_.end());
  return {{as_strided(x, with_front(x.shape()[0], shape_), st, offset_, stream())}, {0}};
}

std::vector<array> Concatenate::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cts[0];
  std::vector<int32_t> starts{0};
  for (auto& p : primals) starts.push_back(starts.back() + p.shape()[axis_]);
  std::vector<array> out;
  for (int arg : argnums) {
    Shape start(g.ndim(), 0), stop = g.shape(), step(g.ndim(), 1);
    start[axis_] = starts[arg];
    stop[axis_] = starts[arg + 1];
    out.push_back(make_node<Slice>({g}, g.dtype(), stream(), start, stop, step));
  }
  return out;
}
std::vector<array> Concatenate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  std::vector<array> ts;
  for (size_t i = 0; i < primals.size(); ++i) ts.push_back(tangent_of(i, primals, tangents, argnums));
  return {concatenate(ts, axis_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Concatenate::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) {
  int batch = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) batch = inputs[i].shape()[axes[i]];
  std::vector<array> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(axes[i] >= 0 ? to_front(inputs[i], axes[i]) : add_batch(inputs[i], batch));
  return {{concatenate(in, axis_ + 1, stream())}, {0}};
}

std::vector<array> Arange::vjp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&,
                               const std::vector<array>&) {
  return {};  // no inputs
}
std::vector<array> Arange::jvp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&) {
  return {zeros({Arange::length(start_, stop_, step_)}, float32, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Arange::vmap(const std::vector<array>&, const std::vector<int>&) {
  return {{arange(start_, stop_, step_, float32, stream())}, {-1}};  // never batched: no inputs
}

// ---- reductions and products -----------------------------------------------------------

namespace {
// d reduce / d x for Prod, exact when x has zeros: the product of the other elements.
array prod_partial(const array& x, const std::vector<int>& axes, StreamOrDevice s) {
  array zero = zeros({}, x.dtype(), s);
  array is_zero = equal(x, zero, s);
  array nonzero_prod = prod(where(is_zero, ones({}, x.dtype(), s), x, s), axes, true, s);
  array zero_count = sum(is_zero, axes, true, s);
  array no_zeros = divide(nonzero_prod, x, s);
  array one_zero = where(is_zero, nonzero_prod, zero, s);
  return where(equal(zero_count, array(0), s), no_zeros,
               where(equal(zero_count, array(1), s), one_zero, zero, s), s);
}
// Max and min spread their cotangent evenly over the elements equal to the result.
array extreme_partial(const array& x, const array& out, const std::vector<int>& axes, StreamOrDevice s) {
  array mask = astype(equal(x, out, s), x.dtype(), s);
  return divide(mask, sum(mask, axes, true, s), s);
}
}  // namespace

std::vector<array> Reduce::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  array g = broadcast_to(cts[0], x.shape(), stream());
  switch (op_) {
    case ReduceOp::Sum: return {g};
    case ReduceOp::Prod: return {multiply(g, prod_partial(x, axes_, stream()), stream())};
    case ReduceOp::Max:
    case ReduceOp::Min:
      if (!inexact(x)) return {zeros_like(x, stream())};
      return {multiply(g, extreme_partial(x, outputs[0], axes_, stream()), stream())};
    default: return {zeros_like(x, stream())};
  }
}
std::vector<array> Reduce::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>&) {
  const array& x = primals[0];
  const array& t = tangents[0];
  switch (op_) {
    case ReduceOp::Sum: return {sum(t, axes_, true, stream())};
    case ReduceOp::Prod: return {sum(multiply(t, prod_partial(x, axes_, stream()), stream()), axes_, true, stream())};
    case ReduceOp::Max:
    case ReduceOp::Min: {
      array out = make_node<Reduce>({x}, x.dtype(), stream(), op_, axes_);
      if (!inexact(x)) return {zeros_like(out, stream())};
      return {sum(multiply(t, extreme_partial(x, out, axes_, stream()), stream()), axes_, true, stream())};
    }
    default: return {zeros(output_shapes(primals)[0], bool_, stream())};
  }
}
std::pair<std::vector<array>, std::vector<int>> Reduce::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  std::vector<int> shifted;
  for (int a : axes_) shifted.push_back(a + 1);
  Dtype t = (op_ == ReduceOp::And || op_ == ReduceOp::Or) ? bool_ : x.dtype();
  return {{make_node<Reduce>({x}, t, stream(), op_, shifted)}, {0}};
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> ArgReduce::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&) {
  return {zeros(output_shapes(primals)[0], uint32, stream())};
}
std::pair<std::vector<array>, std::vector<int>> ArgReduce::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  return {{make_node<ArgReduce>({x}, uint32, stream(), op_, axis_ + 1)}, {0}};
}

std::vector<array> Matmul::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cts[0];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(matmul(g, swapaxes(primals[1], -1, -2, stream()), stream()));
    else out.push_back(matmul(swapaxes(primals[0], -1, -2, stream()), g, stream()));
  }
  return out;
}
std::vector<array> Matmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  array t = zeros(output_shapes(primals)[0], primals[0].dtype(), stream());
  if (has_tangent(0, argnums)) t = add(t, matmul(tangent_of(0, primals, tangents, argnums), primals[1], stream()), stream());
  if (has_tangent(1, argnums)) t = add(t, matmul(primals[0], tangent_of(1, primals, tangents, argnums), stream()), stream());
  return {t};
}
std::pair<std::vector<array>, std::vector<int>> Matmul::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  // matmul broadcasts batch axes, so a leading batch axis on either side just works.
  array a = axes[0] >= 0 ? to_front(inputs[0], axes[0]) : inputs[0];
  array b = axes[1] >= 0 ? to_front(inputs[1], axes[1]) : inputs[1];
  if (axes[0] >= 0 && axes[1] < 0) b = expand_dims(b, 0, stream());
  if (axes[1] >= 0 && axes[0] < 0) a = expand_dims(a, 0, stream());
  return {{matmul(a, b, stream())}, {0}};
}

// ---- gather and scatter ----------------------------------------------------------------

namespace {
// vmap by running the op on each sample and stacking: for batched indices, where no
// single gather or scatter does the job.
std::pair<std::vector<array>, std::vector<int>> vmap_by_loop(
    const std::vector<array>& inputs, const std::vector<int>& axes,
    const std::function<array(const std::vector<array>&)>& op) {
  int batch = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) batch = inputs[i].shape()[axes[i]];
  std::vector<array> results;
  for (int b = 0; b < batch; ++b) {
    std::vector<array> sample;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (axes[i] < 0) {
        sample.push_back(inputs[i]);
        continue;
      }
      Shape start(inputs[i].ndim(), 0), stop = inputs[i].shape();
      start[axes[i]] = b, stop[axes[i]] = b + 1;
      sample.push_back(squeeze(slice(inputs[i], start, stop), axes[i]));
    }
    results.push_back(op(sample));
  }
  return {{stack(results, 0)}, {0}};
}
}  // namespace

std::vector<array> Take::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                             const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0)
      out.push_back(scatter_add(zeros_like(primals[0], stream()), primals[1], cts[0], axis_, stream()));
    else
      out.push_back(zeros_like(primals[1], stream()));
  }
  return out;
}
std::vector<array> Take::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>& argnums) {
  return {take(tangent_of(0, primals, tangents, argnums), primals[1], axis_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Take::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) {
  if (axes[1] < 0) return {{take(to_front(inputs[0], axes[0]), inputs[1], axis_ + 1, stream())}, {0}};
  int axis = axis_;
  return vmap_by_loop(inputs, axes, [axis](const std::vector<array>& x) { return take(x[0], x[1], axis); });
}

namespace {
array apply_scatter(ScatterOp op, const array& a, const array& i, const array& u, int axis, StreamOrDevice s) {
  switch (op) {
    case ScatterOp::Set: return scatter(a, i, u, axis, s);
    case ScatterOp::Add: return scatter_add(a, i, u, axis, s);
    case ScatterOp::Prod: return scatter_prod(a, i, u, axis, s);
    case ScatterOp::Max: return scatter_max(a, i, u, axis, s);
    case ScatterOp::Min: return scatter_min(a, i, u, axis, s);
  }
  return a;
}
}  // namespace

namespace {
// d out / d a and d out / d updates of the combining scatters (Prod, Max, Min), as arrays
// shaped like a and like updates. Max/Min send the derivative to whichever value won (both
// on a tie); Prod divides the product by the factor, so it needs nonzero inputs.
std::pair<array, array> scatter_partials(ScatterOp op, const array& a, const array& idx, const array& u,
                                         const array& out, int axis, StreamOrDevice s) {
  array out_at_u = take(out, idx, axis, s);
  if (op == ScatterOp::Prod) return {divide(out, a, s), divide(out_at_u, u, s)};
  return {astype(equal(out, a, s), a.dtype(), s), astype(equal(out_at_u, u, s), u.dtype(), s)};
}
}  // namespace

std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& g = cts[0];
  const array &a = primals[0], &idx = primals[1], &u = primals[2];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 1) {
      out.push_back(zeros_like(idx, stream()));
    } else if (op_ == ScatterOp::Set) {  // written-over positions get nothing from a
      out.push_back(arg == 0 ? scatter(g, idx, zeros_like(u, stream()), axis_, stream()) : take(g, idx, axis_, stream()));
    } else if (op_ == ScatterOp::Add) {
      out.push_back(arg == 0 ? g : take(g, idx, axis_, stream()));
    } else {
      auto [pa, pu] = scatter_partials(op_, a, idx, u, outputs[0], axis_, stream());
      out.push_back(arg == 0 ? multiply(g, pa, stream()) : multiply(take(g, idx, axis_, stream()), pu, stream()));
    }
  }
  return out;
}
std::vector<array> Scatter::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  const array &a = primals[0], &idx = primals[1], &u = primals[2];
  array ta = tangent_of(0, primals, tangents, argnums), tu = tangent_of(2, primals, tangents, argnums);
  if (op_ == ScatterOp::Set || op_ == ScatterOp::Add) return {apply_scatter(op_, ta, idx, tu, axis_, stream())};
  array out = apply_scatter(op_, a, idx, u, axis_, stream());
  auto [pa, pu] = scatter_partials(op_, a, idx, u, out, axis_, stream());
  return {add(multiply(ta, pa, stream()), scatter_add(zeros_like(a, stream()), idx, multiply(tu, pu, stream()), axis_, stream()),
              stream())};
}
std::pair<std::vector<array>, std::vector<int>> Scatter::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) {
  ScatterOp op = op_;
  int axis = axis_;
  if (axes[1] < 0) {
    int batch = axes[0] >= 0 ? inputs[0].shape()[axes[0]] : inputs[2].shape()[axes[2]];
    array a = axes[0] >= 0 ? to_front(inputs[0], axes[0]) : add_batch(inputs[0], batch);
    array u = axes[2] >= 0 ? to_front(inputs[2], axes[2]) : add_batch(inputs[2], batch);
    return {{apply_scatter(op, a, inputs[1], u, axis + 1, stream())}, {0}};
  }
  return vmap_by_loop(inputs, axes, [op, axis](const std::vector<array>& x) {
    return apply_scatter(op, x[0], x[1], x[2], axis, {});
  });
}

// ---- user rules ------------------------------------------------------------------------

void StopGradient::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  outputs[0].copy_shared_buffer(inputs[0]);
}
bool StopGradient::is_equivalent(const Primitive& o) const { return dynamic_cast<const StopGradient*>(&o) != nullptr; }

void CustomTransforms::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[num_args_ + i]);
}

std::vector<Shape> CustomTransforms::output_shapes(const std::vector<array>& inputs) const {
  std::vector<Shape> shapes;
  for (size_t i = num_args_; i < inputs.size(); ++i) shapes.push_back(inputs[i].shape());
  return shapes;
}

std::vector<array> CustomTransforms::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                         const std::vector<int>& argnums, const std::vector<array>& outputs) {
  std::vector<array> args(primals.begin(), primals.begin() + num_args_);
  std::vector<array> grads = vjp_ ? (*vjp_)(args, cts, outputs) : lazuli::vjp(fun_, args, cts).second;
  if (grads.size() != args.size())
    fail("vjp", "The custom vjp returned " + std::to_string(grads.size()) + " cotangents for " +
                    std::to_string(args.size()) + " inputs.");
  std::vector<array> out;
  for (int arg : argnums) out.push_back(arg < num_args_ ? grads[arg] : zeros_like(primals[arg], stream()));
  return out;
}

std::vector<array> CustomTransforms::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) {
  std::vector<array> args(primals.begin(), primals.begin() + num_args_);
  std::vector<array> ts;
  std::vector<int> nums;
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] < num_args_) ts.push_back(tangents[k]), nums.push_back(argnums[k]);
  if (jvp_) return (*jvp_)(args, ts, nums);
  std::vector<array> all;
  for (int i = 0; i < num_args_; ++i) all.push_back(tangent_of(i, primals, ts, nums));
  return lazuli::jvp(fun_, args, all).second;
}

std::pair<std::vector<array>, std::vector<int>> CustomTransforms::vmap(const std::vector<array>& inputs,
                                                                       const std::vector<int>& axes) {
  std::vector<array> args(inputs.begin(), inputs.begin() + num_args_);
  std::vector<int> arg_axes(axes.begin(), axes.begin() + num_args_);
  if (vmap_) return (*vmap_)(args, arg_axes);
  auto outs = lazuli::vmap(fun_, arg_axes)(args);
  return {outs, std::vector<int>(outs.size(), 0)};
}

// ---- the registry of primitives ---------------------------------------------------------

namespace detail {
static std::vector<std::string>& registered() {
  static std::vector<std::string> names;
  return names;
}
bool register_primitive(const char* name) {
  registered().push_back(name);
  return true;
}
}  // namespace detail

std::vector<std::string> primitive_classes() {
  auto names = detail::registered();
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> primitive_names() {
  std::vector<std::string> names;
  for (auto& cls : detail::registered()) {
    if (cls == "Unary") {
#define LAZULI_NAME(Name, op) names.push_back(#Name);
      LAZULI_UNARY_OPS(LAZULI_NAME)
    } else if (cls == "Binary") {
      LAZULI_BINARY_OPS(LAZULI_NAME)
#undef LAZULI_NAME
    } else if (cls == "Reduce") {
      for (auto n : {"Sum", "Prod", "Max", "Min", "All", "Any"}) names.push_back(n);
    } else if (cls == "ArgReduce") {
      for (auto n : {"ArgMin", "ArgMax"}) names.push_back(n);
    } else if (cls == "Scatter") {
      for (auto n : {"Scatter", "ScatterAdd", "ScatterProd", "ScatterMax", "ScatterMin"}) names.push_back(n);
    } else {
      names.push_back(cls);
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace lazuli

namespace lazuli {
LAZULI_PRIMITIVE_READER(StopGradient) {
  r.arity(1);
  r.outputs_like(0);
  return std::make_shared<StopGradient>(s);
}
}  // namespace lazuli
