// Matrix products: matmul is the primitive; the rest are reshapes around it.
#include <numeric>

#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

array matmul(const array& a_in, const array& b_in, S s) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0)
    fail("matmul", "Inputs must have at least one dimension, got shapes " + shape_str(a_in.shape()) + " and " +
                       shape_str(b_in.shape()) + ".");
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (t == bool_) fail("matmul", "bool inputs are not supported.");
  array a = a_in.ndim() == 1 ? reshape(a_in, {1, a_in.shape()[0]}, s) : a_in;
  array b = b_in.ndim() == 1 ? reshape(b_in, {b_in.shape()[0], 1}, s) : b_in;
  if (a.shape(-1) != b.shape(-2))
    fail("matmul", "Last axis of a " + shape_str(a_in.shape()) + " must match the second-to-last axis of b " +
                       shape_str(b_in.shape()) + ".");
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b);
  } catch (const std::invalid_argument&) {
    fail("matmul", "Batch shapes " + shape_str(batch_a) + " and " + shape_str(batch_b) + " cannot be broadcast.");
  }
  Shape sa = batch, sb = batch;
  sa.push_back(a.shape(-2)), sa.push_back(a.shape(-1));
  sb.push_back(b.shape(-2)), sb.push_back(b.shape(-1));
  a = broadcast_to(astype(a, t, s), sa, s);
  b = broadcast_to(astype(b, t, s), sb, s);
  array out = make_node<Matmul>({a, b}, t, s);
  if (a_in.ndim() == 1) out = squeeze(out, -2, s);
  if (b_in.ndim() == 1) out = squeeze(out, -1, s);
  return out;
}

array addmm(const array& c, const array& a, const array& b, float alpha, float beta, S s) {
  array ab = matmul(a, b, s);
  Dtype t = promote_types(ab.dtype(), c.dtype());
  if (alpha != 1.f) ab = multiply(ab, array(alpha, t), s);
  array cc = beta != 1.f ? multiply(c, array(beta, t), s) : c;
  array out = add(ab, cc, s);
  if (out.shape() != ab.shape())
    fail("addmm", "c of shape " + shape_str(c.shape()) + " does not broadcast to the product's shape " +
                      shape_str(ab.shape()) + ".");
  return out;
}

array outer(const array& a, const array& b, S s) {
  return multiply(reshape(a, {-1, 1}, s), reshape(b, {1, -1}, s), s);
}

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b, S s) {
  if (axes_a.size() != axes_b.size())
    fail("tensordot", "Got " + std::to_string(axes_a.size()) + " axes for a and " + std::to_string(axes_b.size()) + " for b.");
  normalize_axes(axes_a, static_cast<int>(a.ndim()), "tensordot");  // range and repeat checks
  normalize_axes(axes_b, static_cast<int>(b.ndim()), "tensordot");
  // Keep the pairing the caller gave, not normalize_axes' sorted order.
  std::vector<int> ca, cb;
  for (int ax : axes_a) ca.push_back(normalize_axis(ax, static_cast<int>(a.ndim()), "tensordot"));
  for (int ax : axes_b) cb.push_back(normalize_axis(ax, static_cast<int>(b.ndim()), "tensordot"));
  int32_t k = 1;
  for (size_t i = 0; i < ca.size(); ++i) {
    if (a.shape()[ca[i]] != b.shape()[cb[i]])
      fail("tensordot", "Contracted axes have sizes " + std::to_string(a.shape()[ca[i]]) + " and " +
                            std::to_string(b.shape()[cb[i]]) + ".");
    k *= a.shape()[ca[i]];
  }
  std::vector<int> free_a, free_b;
  Shape out_shape;
  for (int i = 0; i < static_cast<int>(a.ndim()); ++i)
    if (std::find(ca.begin(), ca.end(), i) == ca.end()) free_a.push_back(i), out_shape.push_back(a.shape()[i]);
  for (int i = 0; i < static_cast<int>(b.ndim()); ++i)
    if (std::find(cb.begin(), cb.end(), i) == cb.end()) free_b.push_back(i), out_shape.push_back(b.shape()[i]);
  int32_t m = 1, n = 1;
  for (int i : free_a) m *= a.shape()[i];
  for (int i : free_b) n *= b.shape()[i];
  std::vector<int> pa = free_a, pb = cb;
  pa.insert(pa.end(), ca.begin(), ca.end());
  pb.insert(pb.end(), free_b.begin(), free_b.end());
  array a2 = reshape(transpose(a, pa, s), {m, k}, s);
  array b2 = reshape(transpose(b, pb, s), {k, n}, s);
  return reshape(matmul(a2, b2, s), out_shape, s);
}

array tensordot(const array& a, const array& b, int axes, S s) {
  if (axes < 0 || axes > static_cast<int>(std::min(a.ndim(), b.ndim())))
    fail("tensordot", "axes=" + std::to_string(axes) + " is out of range for shapes " + shape_str(a.shape()) +
                          " and " + shape_str(b.shape()) + ".");
  std::vector<int> ax_a, ax_b;
  for (int i = 0; i < axes; ++i) {
    ax_a.push_back(static_cast<int>(a.ndim()) - axes + i);
    ax_b.push_back(i);
  }
  return tensordot(a, b, ax_a, ax_b, s);
}

array inner(const array& a, const array& b, S s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape(-1) != b.shape(-1))
    fail("inner", "Last axes must match, got shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + ".");
  return tensordot(a, b, {-1}, {-1}, s);
}

}  // namespace lazuli
