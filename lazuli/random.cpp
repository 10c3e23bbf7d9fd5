// Counter-based random numbers: the RandomBits primitive's rules, the global key, and the
// samplers, each a composition of RandomBits with ops (so they transform and fuse like any
// other op). The kernel is in backend/cpu/random.cpp.
#include "lazuli/random.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "lazuli/ops/ops_util.h"

namespace lazuli {
using detail::fail;
using detail::shape_str;

// ---- the primitive ----------------------------------------------------------------------

// Keys of shape (..., 2) give one independent draw of `shape_` per key (vmap's batches).
std::vector<Shape> RandomBits::output_shapes(const std::vector<array>& inputs) const {
  Shape out(inputs[0].shape().begin(), inputs[0].shape().end() - 1);
  out.insert(out.end(), shape_.begin(), shape_.end());
  return {out};
}
bool RandomBits::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RandomBits*>(&o);
  return p && p->shape_ == shape_;
}

// The key is not differentiable: zero cotangents and tangents.
std::vector<array> RandomBits::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (size_t i = 0; i < argnums.size(); ++i) out.push_back(zeros_like(primals[argnums[i]], stream()));
  return out;
}
std::vector<array> RandomBits::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                   const std::vector<int>&) {
  return {zeros(output_shapes(primals)[0], uint32, stream())};
}
std::pair<std::vector<array>, std::vector<int>> RandomBits::vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes) {
  if (axes[0] < 0) return {{detail::make_node<RandomBits>(inputs, uint32, stream(), shape_)}, {-1}};
  array keys = detail::to_front(inputs[0], axes[0], stream());
  return {{detail::make_node<RandomBits>({keys}, uint32, stream(), shape_)}, {0}};
}

namespace random {

namespace {

// ---- the global key ---------------------------------------------------------------------

struct GlobalKey {
  std::mutex mu;
  std::array<uint32_t, 2> key;
  // Set instead of `key` when the global key is not a known value: a traced or unevaluated
  // array (compile threads the key through a compiled function as state).
  std::optional<array> lazy;
  GlobalKey() {
    auto t = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    key = {static_cast<uint32_t>(t >> 32), static_cast<uint32_t>(t)};
  }
};
GlobalKey& global() {
  static GlobalKey g;
  return g;
}

// Splits the global key on the host, as split(key) would: the global key becomes the
// first half and the caller gets the second.
array next_key() {
  auto& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (g.lazy) {
    array both = random::split(*g.lazy, 2, {});
    g.lazy = reshape(slice(both, {0, 0}, {1, 2}), {2});
    return reshape(slice(both, {1, 0}, {2, 2}), {2});
  }
  auto first = threefry2x32_20(g.key, {0, 0});
  auto second = threefry2x32_20(g.key, {1, 0});
  g.key = first;
  return array({second[0], second[1]}, {2}, uint32);
}

array resolve_key(const Key& key, const char* op) {
  if (!key) return next_key();
  if (key->dtype() != uint32)
    fail(op, "Expected a key of type uint32, got " + (dtype_name(key->dtype())) + ".");
  if (key->shape() != Shape{2}) fail(op, "Expected a key of shape (2,), got " + shape_str(key->shape()) + ".");
  return *key;
}

void check_floating(Dtype dtype, const char* op) {
  if (!is_floating_point(dtype))
    fail(op, "Can only generate random numbers of a real floating-point type, got " +
                 (dtype_name(dtype)) + ".");
}

// uint32 random bits (already validated key).
array raw_bits(const Shape& shape, const array& key, const char* op, S s) {
  shape_size(shape, op);
  return detail::make_node<RandomBits>({key}, uint32, s, shape);
}

array u32(uint32_t v) { return array(v, uint32); }

// Uniform in [0, 1) of `dtype`, from the top bits of the draw: exactly as many bits as the
// dtype's significand holds, so every value is exact and below 1.
array unit(const Shape& shape, Dtype dtype, const array& key, const char* op, S s) {
  if (dtype == float64) {
    Shape pairs = shape;
    pairs.push_back(2);
    array b = raw_bits(pairs, key, op, s);
    array hi = astype(right_shift(take(b, array(0), -1, s), u32(5), s), float64, s);  // 27 bits
    array lo = astype(right_shift(take(b, array(1), -1, s), u32(6), s), float64, s);  // 26 bits
    array u = multiply(add(multiply(hi, array(67108864.0), s), lo, s), array(std::ldexp(1.0, -53)), s);
    return u;
  }
  int mantissa = dtype == float16 ? 11 : dtype == bfloat16 ? 8 : 24;
  array b = right_shift(raw_bits(shape, key, op, s), u32(32 - mantissa), s);
  array u = multiply(astype(b, float32, s), array(std::ldexp(1.0f, -mantissa)), s);
  return astype(u, dtype, s);
}

Shape broadcast_checked(const Shape& shape, const Shape& params, const char* op) {
  Shape out;
  try {
    out = broadcast_shapes(shape, params);
  } catch (const std::invalid_argument&) {
    fail(op, "Cannot generate random values of shape " + shape_str(shape) + " from parameters of shape " +
                 shape_str(params) + ".");
  }
  if (out != shape)
    fail(op, "Cannot generate random values of shape " + shape_str(shape) + " from parameters broadcast to " +
                 shape_str(out) + ".");
  return out;
}

array uniform_impl(const array& low, const array& high, const Shape& shape, Dtype dtype, const array& key,
                   const char* op, S s) {
  check_floating(dtype, op);
  shape_size(shape, op);
  array lo = astype(low, dtype, s), hi = astype(high, dtype, s);
  broadcast_checked(shape, broadcast_shapes(lo.shape(), hi.shape()), op);
  array out = add(lo, multiply(subtract(hi, lo, s), unit(shape, dtype, key, op, s), s), s);
  // Rounding may reach `high`; keep the interval half-open.
  return where(less(out, hi, s), out, broadcast_to(lo, shape, s), s);
}

// Standard normal in float32 (float64 for float64), via erfinv of a uniform in (-1, 1).
array standard_normal(const Shape& shape, Dtype dtype, const array& key, const char* op, S s) {
  check_floating(dtype, op);
  Dtype ct = dtype == float64 ? float64 : float32;
  array low(ct == float64 ? std::nextafter(-1.0, 0.0) : double(std::nextafter(-1.0f, 0.0f)), ct);
  array u = uniform_impl(low, array(1.0, ct), shape, ct, key, op, s);
  return multiply(array(std::sqrt(2.0), ct), erfinv(u, s), s);
}

}  // namespace

// ---- keys ---------------------------------------------------------------------------------

array key(uint64_t seed) {
  return array({static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed)}, {2}, uint32);
}

void seed(uint64_t value) {
  auto& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  g.key = {static_cast<uint32_t>(value >> 32), static_cast<uint32_t>(value)};
  g.lazy.reset();
}

array global_key() {
  auto& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (g.lazy) return *g.lazy;
  return array({g.key[0], g.key[1]}, {2}, uint32);
}

void set_global_key(const array& key) {
  if (key.dtype() != uint32 || key.shape() != Shape{2})
    fail("random.state", "The global key must be a uint32 array of shape (2,), got " + dtype_name(key.dtype()) +
                             " of shape " + shape_str(key.shape()) + ".");
  auto& g = global();
  std::lock_guard<std::mutex> lock(g.mu);
  if (key.is_available() && !key.traced()) {
    array k = contiguous(key);
    k.eval();
    g.key = {k.data<uint32_t>()[0], k.data<uint32_t>()[1]};
    g.lazy.reset();
  } else {
    g.lazy = key;
  }
}

array split(const array& key, int num, S s) {
  if (num < 0) fail("split", "num must be non-negative, got " + std::to_string(num) + ".");
  return raw_bits({num, 2}, resolve_key(key, "split"), "split", s);
}
std::pair<array, array> split(const array& key, S s) {
  array keys = split(key, 2, s);
  return {take(keys, array(0), 0, s), take(keys, array(1), 0, s)};
}

array bits(const Shape& shape, int width, const Key& key, S s) {
  if (width != 1 && width != 2 && width != 4)
    fail("bits", "width must be 1, 2 or 4 bytes, got " + std::to_string(width) + ".");
  array b = raw_bits(shape, resolve_key(key, "bits"), "bits", s);
  if (width == 4) return b;
  return astype(right_shift(b, u32(32 - 8 * width), s), width == 2 ? uint16 : uint8, s);
}

// ---- samplers -----------------------------------------------------------------------------

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype, const Key& key, S s) {
  check_floating(dtype, "uniform");
  return uniform_impl(low, high, shape, dtype, resolve_key(key, "uniform"), "uniform", s);
}
array uniform(const Shape& shape, Dtype dtype, const Key& key, S s) {
  return uniform(array(0.0, float32), array(1.0, float32), shape, dtype, key, s);
}

array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc, const std::optional<array>& scale,
             const Key& key, S s) {
  check_floating(dtype, "normal");
  shape_size(shape, "normal");
  array z = standard_normal(shape, dtype, resolve_key(key, "normal"), "normal", s);
  if (scale) z = multiply(z, astype(*scale, z.dtype(), s), s);
  if (loc) z = add(z, astype(*loc, z.dtype(), s), s);
  return astype(z, dtype, s);
}
array normal(const Shape& shape, Dtype dtype, double loc, double scale, const Key& key, S s) {
  std::optional<array> l, sc;
  if (loc != 0.0) l = array(loc, float64);
  if (scale != 1.0) sc = array(scale, float64);
  return normal(shape, dtype, l, sc, key, s);
}

array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape, Dtype dtype,
                       const Key& key, S s) {
  const char* op = "truncated_normal";
  check_floating(dtype, op);
  Shape params = broadcast_shapes(lower.shape(), upper.shape());
  Shape out_shape = shape ? *shape : params;
  shape_size(out_shape, op);
  broadcast_checked(out_shape, params, op);
  Dtype ct = dtype == float64 ? float64 : float32;
  array sqrt2(std::sqrt(2.0), ct);
  array lo = astype(lower, ct, s), hi = astype(upper, ct, s);
  array a = erf(divide(lo, sqrt2, s), s), b = erf(divide(hi, sqrt2, s), s);
  array u = uniform_impl(a, b, out_shape, ct, resolve_key(key, op), op, s);
  array out = multiply(sqrt2, erfinv(u, s), s);
  return astype(maximum(minimum(out, hi, s), lo, s), dtype, s);
}

array bernoulli(const array& p, const std::optional<Shape>& shape, const Key& key, S s) {
  const char* op = "bernoulli";
  Shape out_shape = shape ? *shape : p.shape();
  shape_size(out_shape, op);
  broadcast_checked(out_shape, p.shape(), op);
  Dtype dt = is_floating_point(p.dtype()) ? p.dtype() : float32;
  return less(unit(out_shape, dt, resolve_key(key, op), op, s), astype(p, dt, s), s);
}
array bernoulli(double p, const std::optional<Shape>& shape, const Key& key, S s) {
  return bernoulli(array(p, float32), shape, key, s);
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype, const Key& key, S s) {
  const char* op = "randint";
  if (!is_integral(dtype) && dtype != bool_)
    fail(op, "randint only accepts integer dtypes and bool, got " + (dtype_name(dtype)) + ".");
  shape_size(shape, op);
  broadcast_checked(shape, broadcast_shapes(low.shape(), high.shape()), op);
  array k = resolve_key(key, op);
  // floor(low + u * (high - low)) in float64 with u from 32 bits: exact for ranges below 2^32.
  array lo = astype(low, float64, s), hi = astype(high, float64, s);
  array u = multiply(astype(raw_bits(shape, k, op, s), float64, s), array(std::ldexp(1.0, -32)), s);
  array v = floor(add(lo, multiply(u, subtract(hi, lo, s), s), s), s);
  v = maximum(minimum(v, subtract(hi, array(1.0), s), s), lo, s);
  return astype(v, dtype, s);
}
array randint(int64_t low, int64_t high, const Shape& shape, Dtype dtype, const Key& key, S s) {
  if (low >= high)
    fail("randint", "low must be less than high, got low = " + std::to_string(low) + " and high = " +
                        std::to_string(high) + ".");
  return randint(array(double(low), float64), array(double(high), float64), shape, dtype, key, s);
}

array gumbel(const Shape& shape, Dtype dtype, const Key& key, S s) {
  const char* op = "gumbel";
  check_floating(dtype, op);
  shape_size(shape, op);
  // u = (k + 1/2) / 2^24 lies in (0, 1): both logs are finite.
  array b = right_shift(raw_bits(shape, resolve_key(key, op), op, s), u32(8), s);
  array u = multiply(add(astype(b, float32, s), array(0.5f), s), array(std::ldexp(1.0f, -24)), s);
  return astype(negative(log(negative(log(u, s), s), s), s), dtype, s);
}

namespace {
array categorical_impl(const array& logits, int axis, const Shape& batch, bool append, const Key& key, S s) {
  const char* op = "categorical";
  array l = moveaxis(astype(logits, float32, s), axis, -1, s);
  int classes = l.shape().back();
  if (append) l = expand_dims(l, -2, s);
  Shape gshape = batch;
  gshape.push_back(classes);
  array g = gumbel(gshape, float32, resolve_key(key, op), s);
  return argmax(add(g, l, s), -1, false, s);
}
Shape logits_batch(const array& logits, int& axis, const char* op) {
  if (logits.ndim() == 0) fail(op, "logits must have at least one dimension.");
  axis = detail::normalize_axis(axis, static_cast<int>(logits.ndim()), op);
  Shape b = logits.shape();
  b.erase(b.begin() + axis);
  return b;
}
}  // namespace

array categorical(const array& logits, int axis, const std::optional<Shape>& shape, const Key& key, S s) {
  Shape batch = logits_batch(logits, axis, "categorical");
  Shape out = shape ? *shape : batch;
  shape_size(out, "categorical");
  broadcast_checked(out, batch, "categorical");
  return categorical_impl(logits, axis, out, false, key, s);
}
array categorical(const array& logits, int axis, int num_samples, const Key& key, S s) {
  Shape batch = logits_batch(logits, axis, "categorical");
  if (num_samples < 0) fail("categorical", "num_samples must be non-negative, got " + std::to_string(num_samples) + ".");
  batch.push_back(num_samples);
  return categorical_impl(logits, axis, batch, true, key, s);
}

array laplace(const Shape& shape, Dtype dtype, double loc, double scale, const Key& key, S s) {
  const char* op = "laplace";
  check_floating(dtype, op);
  shape_size(shape, op);
  array low(double(std::nextafter(-1.0f, 0.0f)), float32);
  array u = uniform_impl(low, array(1.0f), shape, float32, resolve_key(key, op), op, s);
  // Inverse CDF: -sign(u) log(1 - |u|) for u in (-1, 1).
  array x = negative(multiply(sign(u, s), log1p(negative(abs(u, s), s), s), s), s);
  if (scale != 1.0) x = multiply(x, array(float(scale)), s);
  if (loc != 0.0) x = add(x, array(float(loc)), s);
  return astype(x, dtype, s);
}

namespace {
// A uniformly random permutation of 0..n-1 (uint32, as MLX): the stable argsort of n random
// keys, so ties break by position.
array random_ranks(int n, const array& key, const char* op, S s) { return argsort(raw_bits({n}, key, op, s), 0, s); }
}  // namespace

array permutation(int n, const Key& key, S s) {
  if (n < 0) fail("permutation", "n must be non-negative, got " + std::to_string(n) + ".");
  return random_ranks(n, resolve_key(key, "permutation"), "permutation", s);
}
array permutation(const array& x, int axis, const Key& key, S s) {
  if (x.ndim() == 0) fail("permutation", "x must have at least one dimension.");
  axis = detail::normalize_axis(axis, static_cast<int>(x.ndim()), "permutation");
  array p = random_ranks(x.shape()[axis], resolve_key(key, "permutation"), "permutation", s);
  return take(x, p, axis, s);
}

namespace {
// Lower Cholesky factor of symmetric positive semi-definite matrices (..., n, n), column by
// column with ops; a zero pivot gives a zero column (semi-definite covariances work).
array cholesky_psd(const array& a, S s) {
  int n = a.shape().back();
  Shape batch(a.shape().begin(), a.shape().end() - 2);
  int nd = static_cast<int>(a.ndim());
  array L = zeros(a.shape(), a.dtype(), s);
  array rows = arange(0, n, s);
  for (int j = 0; j < n; ++j) {
    array lrow = take(L, array(j), nd - 2, s);                  // (..., n): L[j, :j]
    array acol = take(a, array(j), nd - 1, s);                  // (..., n): A[:, j]
    array ajj = take(acol, array(j), nd - 2, s);                // (...)
    array d = subtract(ajj, sum(square(lrow, s), -1, false, s), s);
    array pivot = sqrt(maximum(d, zeros({}, a.dtype(), s), s), s);
    array lcol = squeeze(matmul(L, expand_dims(lrow, -1, s), s), -1, s);  // (L L[j]^T)[i]
    array p = expand_dims(pivot, -1, s);
    array col = where(greater(p, zeros({}, a.dtype(), s), s), divide(subtract(acol, lcol, s), p, s),
                      zeros({}, a.dtype(), s), s);
    col = where(greater(rows, array(j), s), col, where(equal(rows, array(j), s), p, zeros({}, a.dtype(), s), s), s);
    array onehot = astype(equal(rows, array(j), s), a.dtype(), s);
    L = add(L, multiply(expand_dims(col, -1, s), onehot, s), s);
  }
  return L;
}
}  // namespace

array multivariate_normal(const array& mean, const array& cov, const Shape& shape, Dtype dtype, const Key& key,
                          S s) {
  const char* op = "multivariate_normal";
  if (dtype != float32 && dtype != float64)
    fail(op, "dtype must be float32 or float64, got " + (dtype_name(dtype)) + ".");
  if (mean.ndim() < 1) fail(op, "mean must have at least one dimension.");
  if (cov.ndim() < 2) fail(op, "cov must have at least two dimensions.");
  int n = mean.shape().back();
  if (cov.shape().back() != n || cov.shape()[cov.ndim() - 2] != n)
    fail(op, "cov must have shape (..., " + std::to_string(n) + ", " + std::to_string(n) + ") for mean of shape " +
                 shape_str(mean.shape()) + ", got " + shape_str(cov.shape()) + ".");
  shape_size(shape, op);
  Shape mb(mean.shape().begin(), mean.shape().end() - 1), cb(cov.shape().begin(), cov.shape().end() - 2);
  broadcast_checked(shape, broadcast_shapes(mb, cb), op);
  Shape zshape = shape;
  zshape.push_back(n);
  array z = standard_normal(zshape, dtype, resolve_key(key, op), op, s);  // float32 or float64
  array L = cholesky_psd(astype(cov, dtype, s), s);
  array x = squeeze(matmul(L, expand_dims(z, -1, s), s), -1, s);
  return add(astype(mean, dtype, s), x, s);
}

}  // namespace random
}  // namespace lazuli

namespace lazuli {
LAZULI_PRIMITIVE_READER(RandomBits) {
  r.arity(1);
  const Shape& key = r.input_shape(0);
  if (key.empty() || key.back() != 2) r.fail("RandomBits needs keys of shape (..., 2)");
  r.expect_input(0, uint32);
  r.expect_output(0, uint32);
  return std::make_shared<RandomBits>(s, r.shape());
}
}  // namespace lazuli
