// The special matmuls. block_masked_mm is a composition of where, multiply and matmul (its
// derivatives are those ops' rules); gather_mm and segmented_mm are the GatherMM and
// SegmentedMM primitives (shape and transform rules here, kernels in
// backend/cpu/special_matmul.cpp). Index and segment arrays get no derivative.
#include <algorithm>

#include "lazuli/einsum.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/einsum.h"

namespace lazuli {
using namespace detail;

// ---- the GatherMM primitive ------------------------------------------------------------

std::vector<Shape> GatherMM::output_shapes(const std::vector<array>& inputs) const {
  return {{inputs[2].shape(0), inputs[0].shape(1), inputs[1].shape(2)}};
}
bool GatherMM::is_equivalent(const Primitive& o) const { return dynamic_cast<const GatherMM*>(&o) != nullptr; }

// The kernels check index values when they run; a file must give consistent shapes and dtypes.
LAZULI_PRIMITIVE_READER(GatherMM) {
  r.arity(4);
  const Shape &a = r.input_shape(0), &b = r.input_shape(1), &li = r.input_shape(2), &ri = r.input_shape(3);
  if (a.size() != 3 || b.size() != 3 || a[2] != b[1] || li.size() != 1 || li != ri)
    r.fail("GatherMM of " + shape_str(a) + " and " + shape_str(b) + " with indices " + shape_str(li) + " and " +
           shape_str(ri));
  r.same_input_dtypes(0, 1);
  r.expect_integer_input(2), r.expect_integer_input(3);
  r.expect_output(0, r.input_dtypes[0]);
  return std::make_shared<GatherMM>(s);
}

namespace {
array gather_mm_node(const array& a, const array& b, const array& li, const array& ri, S s) {
  return make_node<GatherMM>({a, b, li, ri}, a.dtype(), s);
}
}  // namespace

// out[l] = a[li[l]] @ b[ri[l]]: the cotangent of a[i] sums g[l] @ b[ri[l]]^T over the l with
// li[l] = i (a GatherMM with b transposed, then a scatter_add), and likewise for b.
std::vector<array> GatherMM::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &b = primals[1], &li = primals[2], &ri = primals[3], &g = cts[0];
  S s = stream();
  array every = arange(0, li.shape(0), s);
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0)
      out.push_back(scatter_add(zeros_like(a, s), li, gather_mm_node(g, swapaxes(b, 1, 2, s), every, ri, s), 0, s));
    else if (arg == 1)
      out.push_back(scatter_add(zeros_like(b, s), ri, gather_mm_node(swapaxes(a, 1, 2, s), g, li, every, s), 0, s));
    else
      out.push_back(zeros_like(primals[arg], s));
  }
  return out;
}
std::vector<array> GatherMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  const array &a = primals[0], &b = primals[1], &li = primals[2], &ri = primals[3];
  S s = stream();
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] > 1) continue;
    array part = argnums[k] == 0 ? gather_mm_node(tangents[k], b, li, ri, s) : gather_mm_node(a, tangents[k], li, ri, s);
    t = t ? add(*t, part, s) : part;
  }
  if (!t) t = zeros({li.shape(0), a.shape(1), b.shape(2)}, a.dtype(), s);
  return {*t};
}
// A mapped a (V, A, M, K) becomes V*A matrices, its indices offset by v*A for sample v
// (likewise b); the indices of all samples run as one list of V*L.
std::pair<std::vector<array>, std::vector<int>> GatherMM::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  S s = stream();
  int32_t V = 1;
  for (size_t i = 0; i < 4; ++i)
    if (axes[i] >= 0) V = inputs[i].shape(axes[i]);
  auto matrices = [&](int i, array& idx) {
    const array& x = inputs[i];
    if (axes[i] < 0) return x;
    array f = to_front(x, axes[i], s);
    int32_t n = f.shape(1);
    idx = add(idx, reshape(arange(0, V * n, n, s), {V, 1}, s), s);
    return reshape(f, {V * n, f.shape(2), f.shape(3)}, s);
  };
  auto indices = [&](int i) {
    return axes[i] >= 0 ? to_front(inputs[i], axes[i], s) : expand_dims(inputs[i], 0, s);
  };
  array li = indices(2), ri = indices(3);
  array a = matrices(0, li), b = matrices(1, ri);
  int32_t L = std::max(li.shape(1), ri.shape(1));
  li = reshape(broadcast_to(li, {V, L}, s), {V * L}, s);
  ri = reshape(broadcast_to(ri, {V, L}, s), {V * L}, s);
  array out = gather_mm_node(a, b, li, ri, s);
  return {{reshape(out, {V, L, out.shape(1), out.shape(2)}, s)}, {0}};
}

namespace {

// a as (..., M, K) and b as (..., K, N): a vector a is one row, a vector b one column.
// Checks the inner sizes agree.
void as_matrices(array& a, array& b, const char* op, S s) {
  if (a.ndim() == 0 || b.ndim() == 0)
    fail(op, "Inputs must have at least 1 dimension, got shapes " + shape_str(a.shape()) + " and " +
                 shape_str(b.shape()) + ".");
  if (a.ndim() == 1) a = expand_dims(a, 0, s);
  if (b.ndim() == 1) b = expand_dims(b, 1, s);
  if (a.shape(-1) != b.shape(-2))
    fail(op, "Last dimension of the first input with shape " + shape_str(a.shape()) +
                 " must match the second to last dimension of the second input with shape " + shape_str(b.shape()) + ".");
}

// The output of a (..., M, N) product back to what vector inputs give.
array squeeze_vectors(array out, bool a_vector, bool b_vector, S s) {
  if (b_vector) out = squeeze(out, -1, s);
  if (a_vector) out = squeeze(out, b_vector ? -1 : -2, s);
  return out;
}

Shape batch_of(const array& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

// True when a and b broadcast; the broadcast shape in `out`.
bool broadcasts(const Shape& a, const Shape& b, Shape& out) {
  size_t n = std::max(a.size(), b.size());
  out.assign(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int32_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int32_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x != y && x != 1 && y != 1) return false;
    out[i] = x == 1 ? y : x;
  }
  return true;
}

int32_t blocks(int32_t n, int bs) { return (n + bs - 1) / bs; }

}  // namespace

// ---- the SegmentedMM primitive ---------------------------------------------------------

std::vector<Shape> SegmentedMM::output_shapes(const std::vector<array>& inputs) const {
  return {{inputs[2].shape(0), inputs[0].shape(0), inputs[1].shape(1)}};
}
bool SegmentedMM::is_equivalent(const Primitive& o) const { return dynamic_cast<const SegmentedMM*>(&o) != nullptr; }

LAZULI_PRIMITIVE_READER(SegmentedMM) {
  r.arity(3);
  const Shape &a = r.input_shape(0), &b = r.input_shape(1), &seg = r.input_shape(2);
  if (a.size() != 2 || b.size() != 2 || a[1] != b[0] || seg.size() != 2 || seg[1] != 2)
    r.fail("SegmentedMM of " + shape_str(a) + " and " + shape_str(b) + " with segments " + shape_str(seg));
  r.same_input_dtypes(0, 1);
  r.expect_integer_input(2);
  r.expect_output(0, r.input_dtypes[0]);
  return std::make_shared<SegmentedMM>(s);
}

namespace {

array segmented_mm_node(const array& a, const array& b, const array& seg, S s) {
  return make_node<SegmentedMM>({a, b, seg}, a.dtype(), s);
}

// in_segment[..., s, k]: start_s <= k < end_s, for segments (..., S, 2) over K columns.
array segment_mask(const array& seg, int32_t K, S s) {
  int nd = static_cast<int>(seg.ndim());
  Shape start(nd, 0), stop = seg.shape();
  stop[nd - 1] = 1;
  array lo = slice(seg, start, stop, s);
  start[nd - 1] = 1, stop[nd - 1] = 2;
  array hi = slice(seg, start, stop, s);
  array k = arange(0, K, s);
  return logical_and(greater_equal(k, lo, s), less(k, hi, s), s);
}

// The same product by masking: a (..., M, K), b (..., K, N), segments (..., S, 2) with
// broadcasting batch dimensions, giving (..., S, M, N). S times the work of the kernel; the
// vmap rule uses it when more than one input is mapped.
array segmented_by_mask(const array& a, const array& b, const array& seg, S s) {
  array mask = expand_dims(segment_mask(seg, a.shape(-1), s), -2, s);  // (..., S, 1, K)
  array masked = where(mask, expand_dims(a, -3, s), zeros({}, a.dtype(), s), s);  // (..., S, M, K)
  return matmul(masked, expand_dims(b, -3, s), s);
}

}  // namespace

// The cotangent of a sums, over segments, g_s @ b^T on the segment's columns; that of b,
// a^T @ g_s on its rows (S products each: segments may overlap).
std::vector<array> SegmentedMM::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array &a = primals[0], &b = primals[1], &seg = primals[2], &g = cts[0];
  S st = stream();
  array mask = segment_mask(seg, a.shape(1), st);  // (S, K)
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) {
      array per = matmul(g, transpose(b, st), st);  // (S, M, K)
      out.push_back(sum(where(expand_dims(mask, 1, st), per, zeros({}, per.dtype(), st), st), 0, false, st));
    } else if (arg == 1) {
      array per = matmul(transpose(a, st), g, st);  // (S, K, N)
      out.push_back(sum(where(expand_dims(mask, 2, st), per, zeros({}, per.dtype(), st), st), 0, false, st));
    } else {
      out.push_back(zeros_like(seg, st));
    }
  }
  return out;
}
std::vector<array> SegmentedMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  const array &a = primals[0], &b = primals[1], &seg = primals[2];
  S st = stream();
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] > 1) continue;
    array part = argnums[k] == 0 ? segmented_mm_node(tangents[k], b, seg, st) : segmented_mm_node(a, tangents[k], seg, st);
    t = t ? add(*t, part, st) : part;
  }
  if (!t) t = zeros({seg.shape(0), a.shape(0), b.shape(1)}, a.dtype(), st);
  return {*t};
}
// One mapped input folds into the kernel's own dimensions: a's samples become more rows,
// b's more columns, the segments' more segments. Several mapped inputs use the mask form.
std::pair<std::vector<array>, std::vector<int>> SegmentedMM::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) {
  S st = stream();
  array a = to_front(inputs[0], axes[0], st), b = to_front(inputs[1], axes[1], st),
        seg = to_front(inputs[2], axes[2], st);
  int mapped = (axes[0] >= 0) + (axes[1] >= 0) + (axes[2] >= 0);
  if (mapped > 1) {
    if (axes[0] < 0) a = expand_dims(a, 0, st);
    if (axes[1] < 0) b = expand_dims(b, 0, st);
    if (axes[2] < 0) seg = expand_dims(seg, 0, st);
    return {{segmented_by_mask(a, b, seg, st)}, {0}};
  }
  if (axes[0] >= 0) {
    int32_t V = a.shape(0), M = a.shape(1), K = a.shape(2);
    array out = segmented_mm_node(reshape(a, {V * M, K}, st), b, seg, st);  // (S, V*M, N)
    return {{reshape(out, {out.shape(0), V, M, out.shape(2)}, st)}, {1}};
  }
  if (axes[1] >= 0) {
    int32_t V = b.shape(0), K = b.shape(1), N = b.shape(2);
    array bk = reshape(transpose(b, {1, 0, 2}, st), {K, V * N}, st);
    array out = segmented_mm_node(a, bk, seg, st);  // (S, M, V*N)
    return {{reshape(out, {out.shape(0), out.shape(1), V, N}, st)}, {2}};
  }
  int32_t V = seg.shape(0), n = seg.shape(1);
  array out = segmented_mm_node(a, b, reshape(seg, {V * n, 2}, st), st);  // (V*S, M, N)
  return {{reshape(out, {V, n, out.shape(1), out.shape(2)}, st)}, {0}};
}

// ---- ops -------------------------------------------------------------------------------

array block_masked_mm(const array& a_in, const array& b_in, int block_size, const std::optional<array>& mask_out,
                      const std::optional<array>& mask_lhs, const std::optional<array>& mask_rhs, S s) {
  const char* op = "block_masked_mm";
  if (block_size <= 0) fail(op, "block_size must be positive, got " + std::to_string(block_size) + ".");
  array a = a_in, b = b_in;
  as_matrices(a, b, op, s);
  Dtype t = result_type(a, b);
  if (is_integral(t))
    fail(op, std::string("Only floating-point inputs are supported, got ") + dtype_name(a.dtype()) + " and " +
                 dtype_name(b.dtype()) + ".");
  a = astype(a, t, s), b = astype(b, t, s);
  Shape batch;
  if (!broadcasts(batch_of(a), batch_of(b), batch))
    fail(op, "Batch dimensions of shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " do not broadcast.");

  // x (..., R, C) with each element of mask (..., ceil(R/bs), ceil(C/bs)) applied to its
  // block: bool masks keep or zero it, others scale it.
  auto apply = [&](const array& x, const std::optional<array>& mask, const char* name) {
    if (!mask) return x;
    const array& m = *mask;
    int32_t R = x.shape(-2), C = x.shape(-1);
    Shape want{blocks(R, block_size), blocks(C, block_size)}, joint;
    Shape expected = batch;
    expected.insert(expected.end(), want.begin(), want.end());
    if (m.ndim() < 2 || !broadcasts(Shape(m.shape().end() - 2, m.shape().end()), want, joint) || joint != want ||
        !broadcasts(batch_of(m), batch, joint))
      fail(op, std::string(name) + " with shape " + shape_str(m.shape()) + " does not broadcast to " +
                   shape_str(expected) + " (blocks of " + std::to_string(block_size) + " for a " + std::to_string(R) +
                   "x" + std::to_string(C) + " matrix).");
    // One mask element per block, then each repeated over its block and cut to R x C.
    Shape per_block = batch_of(m);
    per_block.insert(per_block.end(), want.begin(), want.end());
    array e = repeat(repeat(broadcast_to(m, per_block, s), block_size, -2, s), block_size, -1, s);
    Shape start(e.ndim(), 0), stop = e.shape();
    stop[e.ndim() - 2] = R, stop[e.ndim() - 1] = C;
    e = slice(e, start, stop, s);
    if (m.dtype() == bool_) return where(e, x, zeros({}, t, s), s);
    return multiply(x, astype(e, t, s), s);
  };
  array out = matmul(apply(a, mask_lhs, "mask_lhs"), apply(b, mask_rhs, "mask_rhs"), s);
  out = apply(out, mask_out, "mask_out");
  return squeeze_vectors(out, a_in.ndim() == 1, b_in.ndim() == 1, s);
}

array gather_mm(const array& a_in, const array& b_in, const std::optional<array>& lhs_indices,
                const std::optional<array>& rhs_indices, bool /*sorted_indices: a hint*/, S s) {
  const char* op = "gather_mm";
  array a = a_in, b = b_in;
  as_matrices(a, b, op, s);
  Dtype t = result_type(a, b);
  if (t == bool_) fail(op, "bool inputs are not supported.");
  a = astype(a, t, s), b = astype(b, t, s);
  // Indices default to every matrix of the batch, in order.
  auto indices = [&](const array& x, const std::optional<array>& idx, const char* name) {
    if (idx) {
      if (!is_integral(idx->dtype()) || idx->dtype() == bool_)
        fail(op, std::string(name) + " must be integral, got " + dtype_name(idx->dtype()) + ".");
      return *idx;
    }
    Shape bs = batch_of(x);
    return reshape(arange(0, static_cast<int>(shape_size(bs))), bs, s);
  };
  array li = indices(a, lhs_indices, "lhs_indices"), ri = indices(b, rhs_indices, "rhs_indices");
  Shape batch;
  if (!broadcasts(li.shape(), ri.shape(), batch))
    fail(op, "lhs_indices with shape " + shape_str(li.shape()) + " and rhs_indices with shape " +
                 shape_str(ri.shape()) + " do not broadcast.");
  int32_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  // The matrices as one list each, the indices as one flat list each (negative ones
  // counted from the end here, so the transform rules see plain positions).
  auto matrices = [&](const array& x, int32_t rows, int32_t cols) {
    return reshape(x, {static_cast<int32_t>(shape_size(batch_of(x))), rows, cols}, s);
  };
  auto flat = [&](const array& idx, int32_t count) {
    array i = reshape(broadcast_to(idx, batch, s), {-1}, s);
    if (!is_unsigned(i.dtype())) i = where(less(i, zeros({}, i.dtype(), s), s), add(i, array(count, i.dtype()), s), i, s);
    return i;
  };
  array am = matrices(a, M, K), bm = matrices(b, K, N);
  array lf = flat(li, am.shape(0)), rf = flat(ri, bm.shape(0));
  array out = gather_mm_node(am, bm, lf, rf, s);
  Shape out_shape = batch;
  out_shape.push_back(M), out_shape.push_back(N);
  return squeeze_vectors(reshape(out, out_shape, s), a_in.ndim() == 1, b_in.ndim() == 1, s);
}

array segmented_mm(const array& a, const array& b, const array& segments, S s) {
  const char* op = "segmented_mm";
  if (a.ndim() != 2 || b.ndim() != 2)
    fail(op, "Inputs must be matrices (M, K) and (K, N), got shapes " + shape_str(a.shape()) + " and " +
                 shape_str(b.shape()) + ".");
  if (a.shape(1) != b.shape(0))
    fail(op, "Inner dimensions of shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " do not match.");
  if (!is_integral(segments.dtype()) || segments.dtype() == bool_)
    fail(op, std::string("segments must be integral, got ") + dtype_name(segments.dtype()) + ".");
  if (segments.ndim() == 0 || segments.shape(-1) != 2)
    fail(op, "segments must have shape (..., 2), got " + shape_str(segments.shape()) + ".");
  Dtype t = result_type(a, b);
  if (t == bool_) fail(op, "bool inputs are not supported.");
  int32_t M = a.shape(0), N = b.shape(1);
  array seg = reshape(astype(segments, int32, s), {-1, 2}, s);
  array out = segmented_mm_node(astype(a, t, s), astype(b, t, s), seg, s);  // (S, M, N)
  Shape out_shape(segments.shape().begin(), segments.shape().end() - 1);
  out_shape.push_back(M), out_shape.push_back(N);
  return reshape(out, out_shape, s);
}

}  // namespace lazuli
