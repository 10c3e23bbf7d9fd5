// The Hadamard primitive (shape and transform rules), hadamard_transform, and the window
// functions (bartlett, hanning, hamming, blackman). The kernel is backend/cpu/hadamard.cpp.
#include <cmath>
#include <numbers>

#include "lazuli/einsum.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli {
using namespace detail;

namespace {

// Hadamard matrices of orders 12, 20 and 28, one row per string ('+' = 1, '-' = -1). Any
// Hadamard matrix of these orders gives a valid transform; these particular ones are the
// ones MLX's hadamard_transform applies, so that results agree with it.
const char* const kH12[12] = {
    "+-++++++++++",
    "--+-+-+-+-+-",
    "+++-++----++",
    "+---+--+-++-",
    "+++++-++----",
    "+-+---+--+-+",
    "++--+++-++--",
    "+--++---+--+",
    "++----+++-++",
    "+--+-++---+-",
    "++++----+++-",
    "+-+--+-++---",
};
const char* const kH20[20] = {
    "+----+----++--++-++-",
    "-+----+---+++---+-++",
    "--+----+---+++-+-+-+",
    "---+----+---+++++-+-",
    "----+----++--++-++-+",
    "-+++++-----+--+++--+",
    "+-+++-+---+-+--+++--",
    "++-++--+---+-+--+++-",
    "+++-+---+---+-+--+++",
    "++++-----++--+-+--++",
    "--++-+-++-+-----++++",
    "---++-+-++-+---+-+++",
    "+---++-+-+--+--++-++",
    "++---++-+----+-+++-+",
    "-++---++-+----+++++-",
    "-+--+--++-+----+----",
    "+-+-----++-+----+---",
    "-+-+-+---+--+----+--",
    "--+-+++------+----+-",
    "+--+--++------+----+",
};
const char* const kH28[28] = {
    "+------++----++-+--+-+--++--",
    "-+-----+++-----+-+--+-+--++-",
    "--+-----+++---+-+-+----+--++",
    "---+-----+++---+-+-+-+--+--+",
    "----+-----+++---+-+-+++--+--",
    "-----+-----++++--+-+--++--+-",
    "------++----++-+--+-+--++--+",
    "--++++-+-------++--+++-+--+-",
    "---++++-+-----+-++--+-+-+--+",
    "+---+++--+----++-++--+-+-+--",
    "++---++---+----++-++--+-+-+-",
    "+++---+----+----++-++--+-+-+",
    "++++--------+-+--++-++--+-+-",
    "-++++--------+++--++--+--+-+",
    "-+-++-++--++--+--------++++-",
    "+-+-++--+--++--+--------++++",
    "-+-+-++--+--++--+----+---+++",
    "+-+-+-++--+--+---+---++---++",
    "++-+-+-++--+------+--+++---+",
    "-++-+-+-++--+------+-++++---",
    "+-++-+---++--+------+-++++--",
    "-++--++-+-++-+++----++------",
    "+-++--++-+-++-+++-----+-----",
    "++-++---+-+-++-+++-----+----",
    "-++-++-+-+-+-+--+++-----+---",
    "--++-++++-+-+----+++-----+--",
    "+--++-+-++-+-+----+++-----+-",
    "++--++-+-++-+-+----++------+",
};

// The factorisation n = m * 2^k with m in {1, 12, 20, 28}, or 0 when there is none.
int hadamard_m(int64_t n) {
  for (int m : {1, 12, 20, 28})
    if (n % m == 0) {
      int64_t p = n / m;
      if (p > 0 && (p & (p - 1)) == 0) return m;
    }
  return 0;
}

}  // namespace

const char* detail::hadamard_row(int m, int i) {
  switch (m) {
    case 12: return kH12[i];
    case 20: return kH20[i];
    case 28: return kH28[i];
  }
  fail("hadamard_transform", "no Hadamard matrix of order " + std::to_string(m) + ".");
}

// ---- the primitive ---------------------------------------------------------------------

std::vector<Shape> Hadamard::output_shapes(const std::vector<array>& inputs) const { return {inputs[0].shape()}; }

bool Hadamard::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Hadamard*>(&o);
  return p && p->m_ == m_ && p->scale_ == scale_ && p->transposed_ == transposed_;
}

// The transform is linear: its tangent is the transform of the tangent, and its cotangent
// the transposed transform (scale * (H_m kron H_2^k)^T) of the cotangent.
std::vector<array> Hadamard::vjp(const std::vector<array>&, const std::vector<array>& cts, const std::vector<int>&,
                                 const std::vector<array>&) {
  const array& g = cts[0];
  return {make_node<Hadamard>({g}, g.dtype(), stream(), m_, scale_, !transposed_)};
}
std::vector<array> Hadamard::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                 const std::vector<int>&) {
  const array& t = tangents[0];
  return {make_node<Hadamard>({t}, t.dtype(), stream(), m_, scale_, transposed_)};
}
std::pair<std::vector<array>, std::vector<int>> Hadamard::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  // Only the last axis is transformed: a batch axis elsewhere stays where it is.
  const array& x = inputs[0];
  int last = static_cast<int>(x.ndim()) - 1;
  if (axes[0] != last) return {{make_node<Hadamard>({x}, x.dtype(), stream(), m_, scale_, transposed_)}, {axes[0]}};
  array y = moveaxis(x, last, 0, stream());
  return {{make_node<Hadamard>({y}, y.dtype(), stream(), m_, scale_, transposed_)}, {0}};
}

LAZULI_PRIMITIVE_READER(Hadamard) {
  r.arity(1);
  int m = r.i32();
  double scale = r.f64();
  bool transposed = r.boolean();
  if (r.rank() < 1) r.fail("Hadamard of a 0-d input");
  int64_t n = r.input_shape(0).back();
  if (m != hadamard_m(n)) r.fail("Hadamard of order " + std::to_string(m) + " along an axis of " + std::to_string(n));
  if (!issubdtype(r.input_dtypes[0], DtypeCategory::inexact)) r.fail("Hadamard of " + dtype_name(r.input_dtypes[0]));
  r.outputs_like(0);
  return std::make_shared<Hadamard>(s, m, scale, transposed);
}

// ---- ops -------------------------------------------------------------------------------

array hadamard_transform(const array& a, std::optional<float> scale, S s) {
  if (a.ndim() == 0) return reshape(hadamard_transform(reshape(a, {1}, s), scale, s), {}, s);
  int64_t n = a.shape().back();
  int m = hadamard_m(n);
  if (m == 0)
    fail("hadamard_transform", "the last axis has size " + std::to_string(n) +
                                   "; it must be m * 2^k with m in (1, 12, 20, 28).");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  double sc = scale ? static_cast<double>(*scale) : 1.0 / std::sqrt(static_cast<double>(n));
  return make_node<Hadamard>({astype(a, t, s)}, t, s, m, sc, false);
}

// Window functions, as NumPy defines them: M points, symmetric, float32. M <= 0 gives an
// empty window and M == 1 the single point 1.
namespace {

array window(int M, S s, array (*shape_of)(const array& k, double M1, S s)) {
  if (M < 1) return zeros({0}, float32, s);
  if (M == 1) return ones({1}, float32, s);
  array k = arange(0.0, static_cast<double>(M), 1.0, float64, s);  // computed in double, like NumPy
  return astype(shape_of(k, M - 1.0, s), float32, s);
}

// cos(c * 2 pi k / (M - 1))
array cosine(const array& k, double M1, double c, S s) {
  return cos(multiply(k, array(c * 2.0 * std::numbers::pi / M1, float64), s), s);
}

}  // namespace

array bartlett(int M, S s) {
  return window(M, s, [](const array& k, double M1, S s) {
    // 1 - |2k/(M-1) - 1|: rises linearly to 1 at the centre and back.
    array r = abs(subtract(multiply(k, array(2.0 / M1, float64), s), array(1.0, float64), s), s);
    return subtract(array(1.0, float64), r, s);
  });
}
array hanning(int M, S s) {
  return window(M, s, [](const array& k, double M1, S s) {
    return subtract(array(0.5, float64), multiply(array(0.5, float64), cosine(k, M1, 1.0, s), s), s);
  });
}
array hamming(int M, S s) {
  return window(M, s, [](const array& k, double M1, S s) {
    return subtract(array(0.54, float64), multiply(array(0.46, float64), cosine(k, M1, 1.0, s), s), s);
  });
}
array blackman(int M, S s) {
  return window(M, s, [](const array& k, double M1, S s) {
    array a = subtract(array(0.42, float64), multiply(array(0.5, float64), cosine(k, M1, 1.0, s), s), s);
    return add(a, multiply(array(0.08, float64), cosine(k, M1, 2.0, s), s), s);
  });
}

}  // namespace lazuli
