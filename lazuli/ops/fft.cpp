// Fourier transforms: the FFT primitive's shapes and transform rules, and the ops of
// lazuli/fft.h. Each op checks its arguments, casts, truncates or zero-pads each axis to
// its size, and chains one FFT node per axis. Kernels live in backend/cpu/fft.cpp.
//
// Derivatives use the bilinear pairing of the other complex rules (real's cotangent is g,
// imag's -i g): the vjp of a linear map is its plain transpose. The DFT matrix is
// symmetric, so fft's vjp is fft and ifft's is ifft. The real transforms are only
// R-linear: rfft's transpose sums the half spectrum's cotangent back with weight 1 (the
// irfft below doubles the middle frequencies, hence the 1/2 there), and irfft's transpose
// weights the frequencies as irfft does (1 at 0 and n/2, 2 between).
#include "lazuli/fft.h"

#include <algorithm>
#include <string>

#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/fft.h"

namespace lazuli {
using namespace detail;

namespace {

int64_t half_length(int n) { return n / 2 + 1; }

}  // namespace

// ---- primitive: shapes and equivalence -----------------------------------------------------

std::vector<Shape> FFT::output_shapes(const std::vector<array>& inputs) const {
  Shape shape = inputs[0].shape();
  if (kind_ == FFTKind::RealForward) shape[axis_] = static_cast<int32_t>(half_length(n_));
  else if (kind_ == FFTKind::RealInverse) shape[axis_] = n_;
  return {shape};
}

bool FFT::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const FFT*>(&o);
  return p && p->axis_ == axis_ && p->n_ == n_ && p->kind_ == kind_;
}

// ---- transform rules ---------------------------------------------------------------------

namespace {

array fft_node(const array& x, int axis, int n, FFTKind kind, S s) {
  Dtype out = kind == FFTKind::RealInverse ? float32 : complex64;
  return make_node<FFT>({x}, out, s, axis, n, kind);
}

// Weights of the n/2 + 1 frequencies of a real transform of length n, shaped to broadcast
// along `axis` of an ndim-array: `ends` at 0 (and n/2 when n is even), `middle` between.
array frequency_weights(int n, int axis, int ndim, float ends, float middle) {
  int32_t m = static_cast<int32_t>(half_length(n));
  std::vector<float> w(m, middle);
  w[0] = ends;
  if (n % 2 == 0) w[m - 1] = ends;
  Shape shape(ndim, 1);
  shape[axis] = m;
  return array(w.begin(), shape, float32);
}

}  // namespace

std::vector<array> FFT::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                            const std::vector<int>&, const std::vector<array>&) {
  const array& g = cts[0];
  S s = stream();
  int nd = static_cast<int>(g.ndim());
  switch (kind_) {
    case FFTKind::Forward:
    case FFTKind::Inverse:
      return {fft_node(astype(g, complex64, s), axis_, n_, kind_, s)};
    case FFTKind::RealForward: {
      // x_j <- Re sum_k g_k w^{jk} = n * irfft(conj(g) / weights).
      array c = multiply(conjugate(astype(g, complex64, s), s), frequency_weights(n_, axis_, nd, 1.f, 0.5f), s);
      return {multiply(fft_node(c, axis_, n_, FFTKind::RealInverse, s), array(static_cast<float>(n_)), s)};
    }
    case FFTKind::RealInverse: {
      // X_k <- weights_k / n * sum_j g_j w^{-jk} = weights / n * conj(rfft(g)).
      array r = conjugate(fft_node(astype(g, float32, s), axis_, n_, FFTKind::RealForward, s), s);
      return {multiply(r, frequency_weights(n_, axis_, nd, 1.f / n_, 2.f / n_), s)};
    }
  }
  return {};
}

std::vector<array> FFT::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>&) {
  Dtype in = kind_ == FFTKind::RealForward ? float32 : complex64;
  return {fft_node(astype(tangents[0], in, stream()), axis_, n_, kind_, stream())};
}

std::pair<std::vector<array>, std::vector<int>> FFT::vmap(const std::vector<array>& inputs,
                                                          const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0], stream());
  int axis = axes[0] >= 0 ? axis_ + 1 : axis_;
  return {{fft_node(x, axis, n_, kind_, stream())}, {axes[0] >= 0 ? 0 : -1}};
}

// ---- ops -------------------------------------------------------------------------------

namespace fft {

namespace {

// The transformed axes (normalised, in the caller's order) and their sizes, checked.
// `n` empty: the input's sizes (for the inverse real transform: 2 * (size - 1) on the last
// axis). `axes` empty with `all_axes`: every axis, or the last n.size() ones.
struct Plan {
  std::vector<int> axes;
  Shape n;
};

std::string list_str(const std::vector<int>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

Plan check(const array& a, const Shape* n, const std::vector<int>* axes, bool real_inverse, const char* op) {
  const int nd = static_cast<int>(a.ndim());
  if (nd == 0) fail(op, "Received a 0-dimensional array; the transform needs at least one axis.");
  Plan p;
  if (axes) {
    p.axes = *axes;
  } else {
    int k = n ? static_cast<int>(n->size()) : nd;
    if (k > nd)
      fail(op, "Received " + std::to_string(k) + " sizes in s for an array with " + std::to_string(nd) +
                   " dimensions.");
    for (int i = nd - k; i < nd; ++i) p.axes.push_back(i);
  }
  if (p.axes.empty()) fail(op, "Received no axes to transform.");
  if (static_cast<int>(p.axes.size()) > nd)
    fail(op, "Received " + std::to_string(p.axes.size()) + " axes " + list_str(p.axes) + " for an array with " +
                 std::to_string(nd) + " dimensions.");
  for (int& ax : p.axes) {
    if (ax < -nd || ax >= nd)
      fail(op, "Received invalid axis " + std::to_string(ax) + " for an array with " + std::to_string(nd) +
                   " dimensions.");
    if (ax < 0) ax += nd;
  }
  std::vector<int> sorted = p.axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    fail(op, "Received repeated axes " + list_str(axes ? *axes : p.axes) + ".");
  if (n) {
    if (n->size() != p.axes.size())
      fail(op, "Received " + std::to_string(n->size()) + " sizes in s but " + std::to_string(p.axes.size()) +
                   " axes; they must have the same length.");
    p.n = *n;
  } else {
    for (int ax : p.axes) p.n.push_back(a.shape()[ax]);
    if (real_inverse) p.n.back() = 2 * (p.n.back() - 1);
  }
  for (size_t i = 0; i < p.n.size(); ++i)
    if (p.n[i] <= 0)
      fail(op, "Invalid number of data points (" + std::to_string(p.n[i]) + ") along axis " +
                   std::to_string(p.axes[i]) + "; it must be at least 1.");
  return p;
}

// x with `axis` truncated or zero-padded to `len`.
array resize_axis(const array& x, int axis, int32_t len, S s) {
  int32_t have = x.shape()[axis];
  if (have == len) return x;
  if (have > len) {
    Shape start(x.ndim(), 0), stop = x.shape();
    stop[axis] = len;
    return slice(x, start, stop, s);
  }
  std::vector<std::pair<int, int>> widths(x.ndim(), {0, 0});
  widths[axis] = {0, len - have};
  return pad(x, widths, array(0, x.dtype()), "constant", s);
}

array complex_transform(const array& a, const Plan& p, bool inverse, S s) {
  array x = astype(a, complex64, s);
  FFTKind kind = inverse ? FFTKind::Inverse : FFTKind::Forward;
  for (int i = static_cast<int>(p.axes.size()) - 1; i >= 0; --i) {
    x = resize_axis(x, p.axes[i], p.n[i], s);
    x = fft_node(x, p.axes[i], p.n[i], kind, s);
  }
  return x;
}

array real_forward(const array& a, const Plan& p, S s) {
  // Complex input keeps its real part, as NumPy does (without the warning).
  array x = is_complex(a.dtype()) ? real(a, s) : a;
  x = astype(x, float32, s);
  int last = static_cast<int>(p.axes.size()) - 1;
  x = resize_axis(x, p.axes[last], p.n[last], s);
  x = fft_node(x, p.axes[last], p.n[last], FFTKind::RealForward, s);
  for (int i = last - 1; i >= 0; --i) {
    x = resize_axis(x, p.axes[i], p.n[i], s);
    x = fft_node(x, p.axes[i], p.n[i], FFTKind::Forward, s);
  }
  return x;
}

array real_inverse(const array& a, const Plan& p, S s) {
  array x = astype(a, complex64, s);
  int last = static_cast<int>(p.axes.size()) - 1;
  for (int i = 0; i < last; ++i) {
    x = resize_axis(x, p.axes[i], p.n[i], s);
    x = fft_node(x, p.axes[i], p.n[i], FFTKind::Inverse, s);
  }
  x = resize_axis(x, p.axes[last], static_cast<int32_t>(half_length(p.n[last])), s);
  return fft_node(x, p.axes[last], p.n[last], FFTKind::RealInverse, s);
}

enum class Op { Complex, Inverse, Real, RealInverse };

array transform(const array& a, const Shape* n, const std::vector<int>* axes, Op op, const char* name, S s) {
  Plan p = check(a, n, axes, op == Op::RealInverse, name);
  switch (op) {
    case Op::Complex: return complex_transform(a, p, false, s);
    case Op::Inverse: return complex_transform(a, p, true, s);
    case Op::Real: return real_forward(a, p, s);
    case Op::RealInverse: return real_inverse(a, p, s);
  }
  return a;
}

array one_axis(const array& a, const int* n, int axis, Op op, const char* name, S s) {
  std::vector<int> axes{axis};
  if (!n) return transform(a, nullptr, &axes, op, name, s);
  Shape sizes{*n};
  return transform(a, &sizes, &axes, op, name, s);
}

}  // namespace

array fftn(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::Complex, "fftn", s);
}
array fftn(const array& a, const std::vector<int>& axes, S s) { return transform(a, nullptr, &axes, Op::Complex, "fftn", s); }
array fftn(const array& a, S s) { return transform(a, nullptr, nullptr, Op::Complex, "fftn", s); }
array ifftn(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::Inverse, "ifftn", s);
}
array ifftn(const array& a, const std::vector<int>& axes, S s) { return transform(a, nullptr, &axes, Op::Inverse, "ifftn", s); }
array ifftn(const array& a, S s) { return transform(a, nullptr, nullptr, Op::Inverse, "ifftn", s); }

array fft(const array& a, int n, int axis, S s) { return one_axis(a, &n, axis, Op::Complex, "fft", s); }
array fft(const array& a, int axis, S s) { return one_axis(a, nullptr, axis, Op::Complex, "fft", s); }
array ifft(const array& a, int n, int axis, S s) { return one_axis(a, &n, axis, Op::Inverse, "ifft", s); }
array ifft(const array& a, int axis, S s) { return one_axis(a, nullptr, axis, Op::Inverse, "ifft", s); }

array fft2(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::Complex, "fft2", s);
}
array fft2(const array& a, const std::vector<int>& axes, S s) { return transform(a, nullptr, &axes, Op::Complex, "fft2", s); }
array ifft2(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::Inverse, "ifft2", s);
}
array ifft2(const array& a, const std::vector<int>& axes, S s) { return transform(a, nullptr, &axes, Op::Inverse, "ifft2", s); }

array rfftn(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::Real, "rfftn", s);
}
array rfftn(const array& a, const std::vector<int>& axes, S s) { return transform(a, nullptr, &axes, Op::Real, "rfftn", s); }
array rfftn(const array& a, S s) { return transform(a, nullptr, nullptr, Op::Real, "rfftn", s); }
array rfft(const array& a, int n, int axis, S s) { return one_axis(a, &n, axis, Op::Real, "rfft", s); }
array rfft(const array& a, int axis, S s) { return one_axis(a, nullptr, axis, Op::Real, "rfft", s); }
array rfft2(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::Real, "rfft2", s);
}
array rfft2(const array& a, const std::vector<int>& axes, S s) { return transform(a, nullptr, &axes, Op::Real, "rfft2", s); }

array irfftn(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::RealInverse, "irfftn", s);
}
array irfftn(const array& a, const std::vector<int>& axes, S s) {
  return transform(a, nullptr, &axes, Op::RealInverse, "irfftn", s);
}
array irfftn(const array& a, S s) { return transform(a, nullptr, nullptr, Op::RealInverse, "irfftn", s); }
array irfft(const array& a, int n, int axis, S s) { return one_axis(a, &n, axis, Op::RealInverse, "irfft", s); }
array irfft(const array& a, int axis, S s) { return one_axis(a, nullptr, axis, Op::RealInverse, "irfft", s); }
array irfft2(const array& a, const Shape& n, const std::vector<int>& axes, S s) {
  return transform(a, &n, &axes, Op::RealInverse, "irfft2", s);
}
array irfft2(const array& a, const std::vector<int>& axes, S s) {
  return transform(a, nullptr, &axes, Op::RealInverse, "irfft2", s);
}

array fftfreq(int n, double d, S s) {
  if (n <= 0) fail("fftfreq", "n must be positive, got " + std::to_string(n) + ".");
  // [0, 1, ..., (n-1)/2, -(n/2), ..., -1] / (d n)
  array i = arange(0, n, s);
  array k = where(less(i, array((n + 1) / 2), s), i, subtract(i, array(n), s), s);
  return astype(divide(astype(k, float64, s), array(d * n), s), float32, s);
}

array rfftfreq(int n, double d, S s) {
  if (n <= 0) fail("rfftfreq", "n must be positive, got " + std::to_string(n) + ".");
  array k = arange(0, n / 2 + 1, s);
  return astype(divide(astype(k, float64, s), array(d * n), s), float32, s);
}

namespace {

array shift(const array& a, const std::vector<int>* axes_in, bool inverse, const char* op, S s) {
  const int nd = static_cast<int>(a.ndim());
  std::vector<int> axes;
  if (axes_in) {
    for (int ax : *axes_in) {
      if (ax < -nd || ax >= nd)
        fail(op, "Received invalid axis " + std::to_string(ax) + " for an array with " + std::to_string(nd) +
                     " dimensions.");
      axes.push_back(ax < 0 ? ax + nd : ax);
    }
  } else {
    for (int i = 0; i < nd; ++i) axes.push_back(i);
  }
  if (axes.empty()) return a;
  Shape shifts;
  for (int ax : axes) {
    int32_t len = a.shape()[ax];
    shifts.push_back(inverse ? -(len / 2) : len / 2);
  }
  return roll(a, shifts, axes, s);
}

}  // namespace

array fftshift(const array& a, const std::vector<int>& axes, S s) { return shift(a, &axes, false, "fftshift", s); }
array fftshift(const array& a, S s) { return shift(a, nullptr, false, "fftshift", s); }
array ifftshift(const array& a, const std::vector<int>& axes, S s) { return shift(a, &axes, true, "ifftshift", s); }
array ifftshift(const array& a, S s) { return shift(a, nullptr, true, "ifftshift", s); }

}  // namespace fft
}  // namespace lazuli

namespace lazuli {
LAZULI_PRIMITIVE_READER(FFT) {
  r.arity(1);
  int axis = r.axis(r.rank());
  int n = r.i32();
  auto kind = r.enumeration<FFTKind>(4);
  r.expect_input(0, kind == FFTKind::RealForward ? float32 : complex64);
  r.expect_output(0, kind == FFTKind::RealInverse ? float32 : complex64);
  int64_t want = kind == FFTKind::RealInverse ? n / 2 + 1 : n;
  if (n < 1 || r.input_shape(0)[axis] != want)
    r.fail("FFT of length " + std::to_string(n) + " reads an axis of length " + std::to_string(r.input_shape(0)[axis]));
  return std::make_shared<FFT>(s, axis, n, kind);
}
}  // namespace lazuli
