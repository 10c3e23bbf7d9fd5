// The NumPy-like ops. Each builds graph nodes and returns at once; nothing here computes.
// Errors in arguments (shapes, axes, dtypes) raise std::invalid_argument naming the op.
#pragma once
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lazuli/array.h"

namespace lazuli {

using S = StreamOrDevice;

// ---- creation ----
array arange(double start, double stop, double step, Dtype dtype, S s = {});
array arange(double start, double stop, double step, S s = {});  // float32
array arange(double start, double stop, Dtype dtype, S s = {});
array arange(double start, double stop, S s = {});
array arange(double stop, Dtype dtype, S s = {});
array arange(double stop, S s = {});
array arange(int start, int stop, int step, S s = {});  // int32
array arange(int start, int stop, S s = {});
array arange(int stop, S s = {});
array linspace(double start, double stop, int num = 50, Dtype dtype = float32, S s = {});
array full(Shape shape, array vals, Dtype dtype, S s = {});
array full(Shape shape, array vals, S s = {});
template <typename T>
array full(Shape shape, T val, Dtype dtype, S s = {}) { return full(std::move(shape), array(val, dtype), s); }
template <typename T>
array full(Shape shape, T val, S s = {}) { return full(std::move(shape), array(val), s); }
array zeros(const Shape& shape, Dtype dtype = float32, S s = {});
array zeros_like(const array& a, S s = {});
array ones(const Shape& shape, Dtype dtype = float32, S s = {});
array ones_like(const array& a, S s = {});
array full_like(const array& a, array vals, S s = {});
array eye(int n, int m, int k = 0, Dtype dtype = float32, S s = {});
array eye(int n, Dtype dtype = float32, S s = {});
array identity(int n, Dtype dtype = float32, S s = {});
array tri(int n, int m, int k = 0, Dtype dtype = float32, S s = {});
array tri(int n, Dtype dtype = float32, S s = {});
array tril(array x, int k = 0, S s = {});
array triu(array x, int k = 0, S s = {});

// ---- type ----
array astype(array a, Dtype dtype, S s = {});
array view(const array& a, Dtype dtype, S s = {});
Dtype result_type(const std::vector<array>& arrays);
inline Dtype result_type(const array& a, const array& b) { return result_type({a, b}); }

// ---- unary ----
array abs(const array& a, S s = {});
array negative(const array& a, S s = {});
array sign(const array& a, S s = {});
array sqrt(const array& a, S s = {});
array rsqrt(const array& a, S s = {});
array square(const array& a, S s = {});
array reciprocal(const array& a, S s = {});
array exp(const array& a, S s = {});
array expm1(const array& a, S s = {});
array log(const array& a, S s = {});
array log1p(const array& a, S s = {});
array log2(const array& a, S s = {});
array log10(const array& a, S s = {});
array sin(const array& a, S s = {});
array cos(const array& a, S s = {});
array tan(const array& a, S s = {});
array arcsin(const array& a, S s = {});
array arccos(const array& a, S s = {});
array arctan(const array& a, S s = {});
array sinh(const array& a, S s = {});
array cosh(const array& a, S s = {});
array tanh(const array& a, S s = {});
array arcsinh(const array& a, S s = {});
array arccosh(const array& a, S s = {});
array arctanh(const array& a, S s = {});
array sigmoid(const array& a, S s = {});
array erf(const array& a, S s = {});
array erfinv(const array& a, S s = {});
array floor(const array& a, S s = {});
array ceil(const array& a, S s = {});
array round(const array& a, int decimals = 0, S s = {});
array round(const array& a, S s);
array trunc(const array& a, S s = {});
array degrees(const array& a, S s = {});
array radians(const array& a, S s = {});
array logical_not(const array& a, S s = {});
array bitwise_invert(const array& a, S s = {});
array isnan(const array& a, S s = {});
array isinf(const array& a, S s = {});
array isfinite(const array& a, S s = {});
array isposinf(const array& a, S s = {});
array isneginf(const array& a, S s = {});
array conjugate(const array& a, S s = {});
array real(const array& a, S s = {});
array imag(const array& a, S s = {});

// ---- binary (NumPy broadcasting and promotion) ----
array add(const array& a, const array& b, S s = {});
array subtract(const array& a, const array& b, S s = {});
array multiply(const array& a, const array& b, S s = {});
array divide(const array& a, const array& b, S s = {});
array floor_divide(const array& a, const array& b, S s = {});
array remainder(const array& a, const array& b, S s = {});
std::vector<array> divmod(const array& a, const array& b, S s = {});
array power(const array& a, const array& b, S s = {});
array maximum(const array& a, const array& b, S s = {});
array minimum(const array& a, const array& b, S s = {});
array arctan2(const array& a, const array& b, S s = {});
array logaddexp(const array& a, const array& b, S s = {});
array equal(const array& a, const array& b, S s = {});
array not_equal(const array& a, const array& b, S s = {});
array less(const array& a, const array& b, S s = {});
array less_equal(const array& a, const array& b, S s = {});
array greater(const array& a, const array& b, S s = {});
array greater_equal(const array& a, const array& b, S s = {});
array logical_and(const array& a, const array& b, S s = {});
array logical_or(const array& a, const array& b, S s = {});
array logical_xor(const array& a, const array& b, S s = {});
array bitwise_and(const array& a, const array& b, S s = {});
array bitwise_or(const array& a, const array& b, S s = {});
array bitwise_xor(const array& a, const array& b, S s = {});
array left_shift(const array& a, const array& b, S s = {});
array right_shift(const array& a, const array& b, S s = {});
array where(const array& condition, const array& x, const array& y, S s = {});
array clip(const array& a, const std::optional<array>& a_min, const std::optional<array>& a_max, S s = {});
array isclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false, S s = {});
array allclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
               bool equal_nan = false, S s = {});
array array_equal(const array& a, const array& b, bool equal_nan = false, S s = {});

array operator-(const array& a);
array operator!(const array& a);
array operator~(const array& a);
// A C++ scalar next to an array is weakly typed, as a Python scalar is in MLX: it takes the
// array's dtype when the kinds agree (2.5 * float16 stays float16), else int32 or float32.
template <typename T>
array weak_scalar(T v, const array& like) {
  Dtype t = like.dtype();
  bool inexact = is_floating_point(t) || is_complex(t);
  if constexpr (std::is_same_v<T, bool>) return array(v);
  else if constexpr (std::is_integral_v<T>) return array(v, t != bool_ ? t : int32);
  else return array(v, inexact ? t : float32);
}
#define LAZULI_BINARY_OPERATOR(op, fn)                                                        \
  array operator op(const array& a, const array& b);                                         \
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>                \
  array operator op(T a, const array& b) { return fn(weak_scalar(a, b), b); }                \
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>                \
  array operator op(const array& a, T b) { return fn(a, weak_scalar(b, a)); }
LAZULI_BINARY_OPERATOR(+, add)
LAZULI_BINARY_OPERATOR(-, subtract)
LAZULI_BINARY_OPERATOR(*, multiply)
LAZULI_BINARY_OPERATOR(/, divide)
LAZULI_BINARY_OPERATOR(%, remainder)
LAZULI_BINARY_OPERATOR(==, equal)
LAZULI_BINARY_OPERATOR(!=, not_equal)
LAZULI_BINARY_OPERATOR(<, less)
LAZULI_BINARY_OPERATOR(<=, less_equal)
LAZULI_BINARY_OPERATOR(>, greater)
LAZULI_BINARY_OPERATOR(>=, greater_equal)
LAZULI_BINARY_OPERATOR(&&, logical_and)
LAZULI_BINARY_OPERATOR(||, logical_or)
LAZULI_BINARY_OPERATOR(&, bitwise_and)
LAZULI_BINARY_OPERATOR(|, bitwise_or)
LAZULI_BINARY_OPERATOR(^, bitwise_xor)
LAZULI_BINARY_OPERATOR(<<, left_shift)
LAZULI_BINARY_OPERATOR(>>, right_shift)
#undef LAZULI_BINARY_OPERATOR

// ---- reductions (axes may be negative; none given means all) ----
array sum(const array& a, bool keepdims = false, S s = {});
array sum(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array sum(const array& a, int axis, bool keepdims = false, S s = {});
array prod(const array& a, bool keepdims = false, S s = {});
array prod(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array prod(const array& a, int axis, bool keepdims = false, S s = {});
array max(const array& a, bool keepdims = false, S s = {});
array max(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array max(const array& a, int axis, bool keepdims = false, S s = {});
array min(const array& a, bool keepdims = false, S s = {});
array min(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array min(const array& a, int axis, bool keepdims = false, S s = {});
array mean(const array& a, bool keepdims = false, S s = {});
array mean(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array mean(const array& a, int axis, bool keepdims = false, S s = {});
array var(const array& a, bool keepdims = false, int ddof = 0, S s = {});
array var(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, S s = {});
array var(const array& a, int axis, bool keepdims = false, int ddof = 0, S s = {});
array std(const array& a, bool keepdims = false, int ddof = 0, S s = {});
array std(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, S s = {});
array std(const array& a, int axis, bool keepdims = false, int ddof = 0, S s = {});
array all(const array& a, bool keepdims = false, S s = {});
array all(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array all(const array& a, int axis, bool keepdims = false, S s = {});
array any(const array& a, bool keepdims = false, S s = {});
array any(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array any(const array& a, int axis, bool keepdims = false, S s = {});
array logsumexp(const array& a, bool keepdims = false, S s = {});
array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array logsumexp(const array& a, int axis, bool keepdims = false, S s = {});
array count_nonzero(const array& a, bool keepdims = false, S s = {});
array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array count_nonzero(const array& a, int axis, bool keepdims = false, S s = {});
array argmax(const array& a, bool keepdims = false, S s = {});  // over the flattened array
array argmax(const array& a, int axis, bool keepdims = false, S s = {});
array argmin(const array& a, bool keepdims = false, S s = {});
array argmin(const array& a, int axis, bool keepdims = false, S s = {});

// ---- shape ----
array reshape(const array& a, Shape shape, S s = {});  // one -1 is inferred
array flatten(const array& a, int start_axis = 0, int end_axis = -1, S s = {});
array unflatten(const array& a, int axis, Shape shape, S s = {});
array squeeze(const array& a, S s = {});
array squeeze(const array& a, const std::vector<int>& axes, S s = {});
array squeeze(const array& a, int axis, S s = {});
array expand_dims(const array& a, const std::vector<int>& axes, S s = {});
array expand_dims(const array& a, int axis, S s = {});
array transpose(const array& a, std::vector<int> axes, S s = {});
array transpose(const array& a, S s = {});
array swapaxes(const array& a, int axis1, int axis2, S s = {});
array moveaxis(const array& a, int source, int destination, S s = {});
Shape broadcast_shapes(const Shape& a, const Shape& b);
array broadcast_to(const array& a, const Shape& shape, S s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& inputs, S s = {});
array concatenate(const std::vector<array>& arrays, int axis, S s = {});
array concatenate(const std::vector<array>& arrays, S s = {});  // flattened
array stack(const std::vector<array>& arrays, int axis = 0, S s = {});
std::vector<array> split(const array& a, int num_splits, int axis = 0, S s = {});
std::vector<array> split(const array& a, const Shape& indices, int axis = 0, S s = {});
// pad_width: one (before, after) pair per axis, or a single pair for all axes.
array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width,
          const array& pad_value = array(0), const std::string& mode = "constant", S s = {});
array pad(const array& a, int pad_width, const array& pad_value = array(0),
          const std::string& mode = "constant", S s = {});
array tile(const array& a, std::vector<int> reps, S s = {});
array repeat(const array& a, int repeats, int axis, S s = {});
array repeat(const array& a, int repeats, S s = {});  // flattened
array flip(const array& a, S s = {});
array flip(const array& a, const std::vector<int>& axes, S s = {});
array slice(const array& a, Shape start, Shape stop, Shape strides, S s = {});
array slice(const array& a, Shape start, Shape stop, S s = {});
array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s = {});
array slice_update(const array& src, const array& update, Shape start, Shape stop, S s = {});
array as_strided(const array& a, Shape shape, Strides strides, size_t offset, S s = {});
array contiguous(const array& a, bool allow_col_major = false, S s = {});
array copy(const array& a, S s = {});
array atleast_1d(const array& a, S s = {});
array atleast_2d(const array& a, S s = {});
array atleast_3d(const array& a, S s = {});

// ---- indexing ----
// Elements at `indices` (any integer dtype; negative counts from the end) along `axis`, or
// of the flattened array. Out-of-range indices raise std::out_of_range on evaluation.
array take(const array& a, const array& indices, int axis, S s = {});
array take(const array& a, const array& indices, S s = {});
// out[..., i, ...] = a[..., indices[..., i, ...], ...]: indices broadcast against a
// except on `axis`.
array take_along_axis(const array& a, const array& indices, int axis, S s = {});
array put_along_axis(const array& a, const array& indices, const array& values, int axis, S s = {});
// a with updates written (or added, multiplied, maxed, minned) at indices along axis;
// updates broadcast to take(a, indices, axis).shape.
array scatter(const array& a, const array& indices, const array& updates, int axis, S s = {});
array scatter_add(const array& a, const array& indices, const array& updates, int axis, S s = {});
array scatter_prod(const array& a, const array& indices, const array& updates, int axis, S s = {});
array scatter_max(const array& a, const array& indices, const array& updates, int axis, S s = {});
array scatter_min(const array& a, const array& indices, const array& updates, int axis, S s = {});

// ---- linear algebra ----
array matmul(const array& a, const array& b, S s = {});
array addmm(const array& c, const array& a, const array& b, float alpha = 1.f, float beta = 1.f, S s = {});
array inner(const array& a, const array& b, S s = {});
array outer(const array& a, const array& b, S s = {});
array tensordot(const array& a, const array& b, int axes = 2, S s = {});
array tensordot(const array& a, const array& b, const std::vector<int>& axes_a,
                const std::vector<int>& axes_b, S s = {});

// ---- evaluation ----
void eval(std::vector<array> outputs);
void async_eval(std::vector<array> outputs);
template <typename... Arrays>
void eval(Arrays&&... outputs) { eval(std::vector<array>{std::forward<Arrays>(outputs)...}); }

// ---- sorting and searching ----
// Sorting along `axis` (or of the flattened array). NaNs order last, as in NumPy; argsort is
// stable and, like argpartition, returns uint32 indices.
array sort(const array& a, int axis, S s = {});
array sort(const array& a, S s = {});
array argsort(const array& a, int axis, S s = {});
array argsort(const array& a, S s = {});
// The kth element (negative counts from the end) where sorting would put it, smaller ones
// before it and larger ones after, each side in no particular order.
array partition(const array& a, int kth, int axis, S s = {});
array partition(const array& a, int kth, S s = {});
array argpartition(const array& a, int kth, int axis, S s = {});
array argpartition(const array& a, int kth, S s = {});
// The k largest elements along `axis`, in no particular order (as MLX).
array topk(const array& a, int k, int axis, S s = {});
array topk(const array& a, int k, S s = {});
// Indices (uint32) where the values of v would be inserted into the sorted 1-D array a to
// keep it sorted: before equal elements (side "left") or after them ("right").
array searchsorted(const array& a, const array& v, const std::string& side = "left", S s = {});
// Median over the given axes (all by default); integers give float32, NaN makes NaN.
array median(const array& a, bool keepdims = false, S s = {});
array median(const array& a, int axis, bool keepdims = false, S s = {});
array median(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});

// ---- scans and misc ----
// Cumulative sum, product, max, min and log-sum-exp along `axis`, or over the flattened
// array. `reverse` scans from the end; an exclusive scan (inclusive = false) starts with
// the identity. bool sums count in int32; float16/bfloat16 accumulate in float32; cummax
// and cummin propagate NaN as NumPy does.
array cumsum(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cumsum(const array& a, bool reverse = false, bool inclusive = true, S s = {});
array cumprod(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cumprod(const array& a, bool reverse = false, bool inclusive = true, S s = {});
array cummax(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cummax(const array& a, bool reverse = false, bool inclusive = true, S s = {});
array cummin(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cummin(const array& a, bool reverse = false, bool inclusive = true, S s = {});
array logcumsumexp(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array logcumsumexp(const array& a, bool reverse = false, bool inclusive = true, S s = {});
// The n-th discrete difference along axis (bool inputs use not_equal, as NumPy).
array diff(const array& a, int n = 1, int axis = -1, S s = {});
// exp(a - max) / sum over the axes (all of them when none are given); `precise` computes
// float16/bfloat16 in float32.
array softmax(const array& a, const std::vector<int>& axes, bool precise = false, S s = {});
array softmax(const array& a, int axis, bool precise = false, S s = {});
array softmax(const array& a, bool precise = false, S s = {});
// NaN and infinities replaced (infinities by the dtype's extremes unless given).
array nan_to_num(const array& a, double nan = 0.0, std::optional<double> posinf = std::nullopt,
                 std::optional<double> neginf = std::nullopt, S s = {});
// Elements shifted along the axes (of the flattened array when there are none), wrapping.
array roll(const array& a, const Shape& shift, const std::vector<int>& axes, S s = {});
array roll(const array& a, int shift, S s = {});
array roll(const array& a, int shift, int axis, S s = {});
// The diagonal at `offset` of the planes (axis1, axis2), as the last axis.
array diagonal(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1, S s = {});
// 1-d input: a square matrix with `a` on diagonal k; 2-d: its k-th diagonal.
array diag(const array& a, int k = 0, S s = {});
array trace(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1, std::optional<Dtype> dtype = std::nullopt,
            S s = {});
// Coordinate grids from 1-d arrays (any array is flattened); indexing "xy" or "ij".
std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse = false, const std::string& indexing = "xy",
                            S s = {});
array kron(const array& a, const array& b, S s = {});
// sum(conj(a) * b) along axis, with broadcasting.
array vecdot(const array& a, const array& b, int axis = -1, S s = {});

}  // namespace lazuli
