// Linear algebra (lazuli::linalg): the factorization primitives' shapes and transform rules,
// and the ops, including those composed from them (norm, pinv, cholesky_inv, lu, det,
// slogdet, cross). Kernels live in backend/cpu/lapack.cpp.
//
// Derivative conventions: Cholesky and Eigh read one triangle, but their rules treat the
// input as symmetric (the cotangent is symmetrized, the tangent symmetrized first), as
// JAX does. SVD's rules use the first K = min(M, N) columns of U and V: the rest of the full
// U or V is not unique, gets a zero tangent, and its cotangent is ignored. QR and SVD
// need distinct nonzero singular values, Eigh distinct eigenvalues. LUFactor is
// differentiable for square matrices (which makes det and slogdet so); Eig is not.
#include <algorithm>
#include <cmath>

#include "lazuli/linalg.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/linalg.h"

namespace lazuli {
using namespace detail;

namespace {

Shape batch_of(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }
Shape with_tail(Shape batch, std::initializer_list<int32_t> tail) {
  batch.insert(batch.end(), tail);
  return batch;
}

// ---- small matrix helpers for the rules (all batched over leading axes) ------------------
array mT(const array& x, S s) { return swapaxes(x, -1, -2, s); }
array sym(const array& x, S s) { return multiply(add(x, mT(x, s), s), array(0.5, x.dtype()), s); }
array eye_as(int32_t n, const array& like, S s) { return eye(n, like.dtype(), s); }
// (..., K) -> (..., K, K) with v on the diagonal.
array diag_embed(const array& v, S s) {
  return multiply(expand_dims(v, -1, s), eye_as(v.shape(-1), v, s), s);
}
array diag_part(const array& x, S s) { return diagonal(x, 0, -2, -1, s); }
// Columns [0, k) of x.
array first_cols(const array& x, int32_t k, S s) {
  Shape start(x.ndim(), 0), stop = x.shape();
  stop.back() = k;
  return slice(x, start, stop, s);
}
array first_rows(const array& x, int32_t k, S s) {
  Shape start(x.ndim(), 0), stop = x.shape();
  stop[x.ndim() - 2] = k;
  return slice(x, start, stop, s);
}
array cols_from(const array& x, int32_t k, S s) {
  Shape start(x.ndim(), 0), stop = x.shape();
  start.back() = k;
  return slice(x, start, stop, s);
}
// x with zero columns (or rows) appended up to n.
array pad_cols(const array& x, int32_t n, S s) {
  if (x.shape(-1) == n) return x;
  Shape z = x.shape();
  z.back() = n - x.shape(-1);
  return concatenate({x, zeros(z, x.dtype(), s)}, -1, s);
}
array pad_rows(const array& x, int32_t n, S s) { return mT(pad_cols(mT(x, s), n, s), s); }

array tri_solve(const array& a, const array& b, bool upper, S s) {
  return make_node<SolveTriangular>({a, b}, a.dtype(), s, upper);
}
// x R^-1 for upper-triangular R.
array right_solve_upper(const array& x, const array& r, S s) {
  return mT(tri_solve(mT(r, s), mT(x, s), false, s), s);
}
// x R^-T for upper-triangular R.
array right_solve_upper_t(const array& x, const array& r, S s) {
  return mT(tri_solve(r, mT(x, s), true, s), s);
}
array triangle(const array& x, bool upper, S s) { return upper ? triu(x, 0, s) : tril(x, 0, s); }

// F[i][j] = 1 / (d[j] - d[i]) off the diagonal, 0 on it.
array inverse_gaps(const array& d, S s) {
  array diff = subtract(expand_dims(d, -2, s), expand_dims(d, -1, s), s);
  array on_diag = eye(d.shape(-1), bool_, s);
  array one(1.0, d.dtype()), zero(0.0, d.dtype());
  return where(on_diag, zero, divide(one, where(on_diag, one, diff, s), s), s);
}

// vmap: every linalg primitive is batched over leading axes, so mapping puts the batch axis
// in front (inputs without one get a broadcastable size-1 axis) and remakes the node.
std::vector<array> batched_front(const std::vector<array>& inputs, const std::vector<int>& axes, S s) {
  std::vector<array> out;
  int32_t n = 1;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) n = inputs[i].shape(axes[i]);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) {
      out.push_back(to_front(inputs[i], axes[i], s));
    } else {
      Shape sh = inputs[i].shape();
      sh.insert(sh.begin(), n);
      out.push_back(broadcast_to(expand_dims(inputs[i], 0, s), sh, s));
    }
  }
  return out;
}

template <typename P, typename... Args>
std::vector<array> make_multi(const std::vector<array>& inputs, const std::vector<Dtype>& dtypes, S s,
                              Args&&... args) {
  auto p = std::make_shared<P>(to_stream(s), std::forward<Args>(args)...);
  return array::make_arrays(p->output_shapes(inputs), dtypes, p, inputs);
}

std::vector<Dtype> svd_dtypes(Dtype t, bool uv) { return uv ? std::vector<Dtype>{t, t, t} : std::vector<Dtype>{t}; }
std::vector<Dtype> eigh_dtypes(Dtype t, bool v) { return v ? std::vector<Dtype>{t, t} : std::vector<Dtype>{t}; }

// Tangent (or cotangent) slot for argnum `i` among `argnums`, or -1.
int slot(const std::vector<int>& argnums, int i) {
  auto it = std::find(argnums.begin(), argnums.end(), i);
  return it == argnums.end() ? -1 : static_cast<int>(it - argnums.begin());
}

}  // namespace

// ---- shapes and equivalence ------------------------------------------------------------------

std::vector<Shape> LUFactor::output_shapes(const std::vector<array>& in) const {
  const array& a = in[0];
  int32_t m = a.shape(-2), n = a.shape(-1);
  Shape b = batch_of(a);
  return {a.shape(), with_tail(b, {std::min(m, n)}), with_tail(b, {m})};
}
std::vector<Shape> Inverse::output_shapes(const std::vector<array>& in) const { return {in[0].shape()}; }
std::vector<Shape> Solve::output_shapes(const std::vector<array>& in) const { return {in[1].shape()}; }
std::vector<Shape> SolveTriangular::output_shapes(const std::vector<array>& in) const { return {in[1].shape()}; }
std::vector<Shape> Cholesky::output_shapes(const std::vector<array>& in) const { return {in[0].shape()}; }
std::vector<Shape> QRF::output_shapes(const std::vector<array>& in) const {
  const array& a = in[0];
  int32_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape b = batch_of(a);
  return {with_tail(b, {m, k}), with_tail(b, {k, n})};
}
std::vector<Shape> SVD::output_shapes(const std::vector<array>& in) const {
  const array& a = in[0];
  int32_t m = a.shape(-2), n = a.shape(-1);
  Shape b = batch_of(a);
  if (!compute_uv_) return {with_tail(b, {std::min(m, n)})};
  return {with_tail(b, {m, m}), with_tail(b, {std::min(m, n)}), with_tail(b, {n, n})};
}
std::vector<Shape> Eigh::output_shapes(const std::vector<array>& in) const {
  Shape b = batch_of(in[0]);
  int32_t n = in[0].shape(-1);
  if (!compute_vectors_) return {with_tail(b, {n})};
  return {with_tail(b, {n}), in[0].shape()};
}
std::vector<Shape> Eig::output_shapes(const std::vector<array>& in) const {
  Shape b = batch_of(in[0]);
  int32_t n = in[0].shape(-1);
  if (!compute_vectors_) return {with_tail(b, {n})};
  return {with_tail(b, {n}), in[0].shape()};
}

bool LUFactor::is_equivalent(const Primitive& o) const { return dynamic_cast<const LUFactor*>(&o) != nullptr; }
bool Inverse::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Inverse*>(&o);
  return p && p->triangular_ == triangular_ && p->upper_ == upper_;
}
bool Solve::is_equivalent(const Primitive& o) const { return dynamic_cast<const Solve*>(&o) != nullptr; }
bool SolveTriangular::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SolveTriangular*>(&o);
  return p && p->upper_ == upper_;
}
bool Cholesky::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Cholesky*>(&o);
  return p && p->upper_ == upper_;
}
bool QRF::is_equivalent(const Primitive& o) const { return dynamic_cast<const QRF*>(&o) != nullptr; }
bool SVD::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SVD*>(&o);
  return p && p->compute_uv_ == compute_uv_;
}
bool Eigh::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Eigh*>(&o);
  return p && p->upper_ == upper_ && p->compute_vectors_ == compute_vectors_;
}
bool Eig::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Eig*>(&o);
  return p && p->compute_vectors_ == compute_vectors_;
}

// ---- transform rules ----------------------------------------------------------------------

// LUFactor: with A[perm] = L U (perm the inverse of the `rows` output), the tangent is
// dL U + L dU with X = L^-1 dA[perm] U^-1, dL = L tril(X, -1), dU = triu(X) U.
namespace {
struct LUParts {
  array L, U, rows;
};
LUParts lu_parts(const array& a, const std::vector<array>& outs, S s) {
  int32_t n = a.shape(-1);
  if (a.shape(-2) != n) fail("linalg::lu_factor", "derivatives need square matrices, got shape " + shape_str(a.shape()) + ".");
  array L = add(tril(outs[0], -1, s), eye_as(n, a, s), s);
  return {L, triu(outs[0], 0, s), outs[2]};
}
array rows_index(const array& rows, const Shape& shape, S s) {
  return broadcast_to(expand_dims(astype(rows, int32, s), -1, s), shape, s);
}
}  // namespace

std::vector<array> LUFactor::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                 const std::vector<int>&, const std::vector<array>& outputs) {
  S s = stream();
  auto [L, U, rows] = lu_parts(primals[0], outputs, s);
  array g = cts[0];
  array m = add(tril(matmul(mT(L, s), tril(g, -1, s), s), -1, s), triu(matmul(triu(g, 0, s), mT(U, s), s), 0, s), s);
  array b = right_solve_upper_t(tri_solve(mT(L, s), m, true, s), U, s);  // L^-T M U^-T
  return {take_along_axis(b, rows_index(rows, b.shape(), s), -2, s)};    // row i of A is row rows[i]
}
std::vector<array> LUFactor::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>&) {
  S s = stream();
  auto outs = make_multi<LUFactor>({primals[0]}, {primals[0].dtype(), uint32, uint32}, s);
  auto [L, U, rows] = lu_parts(primals[0], outs, s);
  array perm = argsort(rows, -1, s);
  array da = take_along_axis(tangents[0], rows_index(perm, tangents[0].shape(), s), -2, s);
  array x = right_solve_upper(tri_solve(L, da, false, s), U, s);
  array dlu = add(matmul(L, tril(x, -1, s), s), matmul(triu(x, 0, s), U, s), s);
  return {dlu, zeros_like(outs[1], s), zeros_like(outs[2], s)};
}
std::pair<std::vector<array>, std::vector<int>> LUFactor::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  return {make_multi<LUFactor>(x, {x[0].dtype(), uint32, uint32}, stream()), {0, 0, 0}};
}

// Inverse: dX = -X dA X; a triangular input only has its triangle.
std::vector<array> Inverse::vjp(const std::vector<array>&, const std::vector<array>& cts, const std::vector<int>&,
                                const std::vector<array>& outputs) {
  S s = stream();
  array xt = mT(outputs[0], s);
  array g = negative(matmul(matmul(xt, cts[0], s), xt, s), s);
  return {triangular_ ? triangle(g, upper_, s) : g};
}
std::vector<array> Inverse::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>&) {
  S s = stream();
  array x = make_node<Inverse>({primals[0]}, primals[0].dtype(), s, triangular_, upper_);
  array da = triangular_ ? triangle(tangents[0], upper_, s) : tangents[0];
  return {negative(matmul(matmul(x, da, s), x, s), s)};
}
std::pair<std::vector<array>, std::vector<int>> Inverse::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  return {{make_node<Inverse>(x, x[0].dtype(), stream(), triangular_, upper_)}, {0}};
}

// Solve: x = A^-1 B; B's cotangent is A^-T G, A's is -(A^-T G) x^T.
std::vector<array> Solve::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                              const std::vector<int>& argnums, const std::vector<array>& outputs) {
  S s = stream();
  array gb = make_node<Solve>({mT(primals[0], s), cts[0]}, primals[0].dtype(), s);
  std::vector<array> out;
  for (int i : argnums) out.push_back(i == 1 ? gb : negative(matmul(gb, mT(outputs[0], s), s), s));
  return out;
}
std::vector<array> Solve::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  S s = stream();
  int ia = slot(argnums, 0), ib = slot(argnums, 1);
  array rhs = ib >= 0 ? tangents[ib] : zeros_like(primals[1], s);
  if (ia >= 0) {
    array x = make_node<Solve>(primals, primals[0].dtype(), s);
    rhs = subtract(rhs, matmul(tangents[ia], x, s), s);
  }
  return {make_node<Solve>({primals[0], rhs}, primals[0].dtype(), s)};
}
std::pair<std::vector<array>, std::vector<int>> Solve::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  return {{make_node<Solve>(x, x[0].dtype(), stream())}, {0}};
}

std::vector<array> SolveTriangular::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                        const std::vector<int>& argnums, const std::vector<array>& outputs) {
  S s = stream();
  array gb = tri_solve(mT(primals[0], s), cts[0], !upper_, s);
  std::vector<array> out;
  for (int i : argnums)
    out.push_back(i == 1 ? gb : triangle(negative(matmul(gb, mT(outputs[0], s), s), s), upper_, s));
  return out;
}
std::vector<array> SolveTriangular::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) {
  S s = stream();
  int ia = slot(argnums, 0), ib = slot(argnums, 1);
  array rhs = ib >= 0 ? tangents[ib] : zeros_like(primals[1], s);
  if (ia >= 0) {
    array x = tri_solve(primals[0], primals[1], upper_, s);
    rhs = subtract(rhs, matmul(triangle(tangents[ia], upper_, s), x, s), s);
  }
  return {tri_solve(primals[0], rhs, upper_, s)};
}
std::pair<std::vector<array>, std::vector<int>> SolveTriangular::vmap(const std::vector<array>& inputs,
                                                                      const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  return {{tri_solve(x[0], x[1], upper_, stream())}, {0}};
}

// Cholesky, with L lower (U = L^T): dL = L Phi(L^-1 dA L^-T), Phi = lower triangle with the
// diagonal halved; the cotangent is sym(L^-T Phi(L^T Lbar) L^-1).
namespace {
array phi(const array& x, S s) {
  return subtract(tril(x, 0, s), multiply(diag_embed(diag_part(x, s), s), array(0.5, x.dtype()), s), s);
}
}  // namespace
std::vector<array> Cholesky::vjp(const std::vector<array>&, const std::vector<array>& cts, const std::vector<int>&,
                                 const std::vector<array>& outputs) {
  S s = stream();
  array L = upper_ ? mT(outputs[0], s) : outputs[0];
  array gl = upper_ ? mT(cts[0], s) : cts[0];
  array p = phi(matmul(mT(L, s), gl, s), s);
  array z = tri_solve(mT(L, s), p, true, s);                // L^-T P
  array g = mT(tri_solve(mT(L, s), mT(z, s), true, s), s);  // (L^-T P) L^-1
  return {sym(g, s)};
}
std::vector<array> Cholesky::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>&) {
  S s = stream();
  array c = make_node<Cholesky>({primals[0]}, primals[0].dtype(), s, upper_);
  array L = upper_ ? mT(c, s) : c;
  array y = tri_solve(L, sym(tangents[0], s), false, s);  // L^-1 dA
  array x = tri_solve(L, mT(y, s), false, s);             // L^-1 dA L^-T (symmetric)
  array dl = matmul(L, phi(x, s), s);
  return {upper_ ? mT(dl, s) : dl};
}
std::pair<std::vector<array>, std::vector<int>> Cholesky::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  return {{make_node<Cholesky>(x, x[0].dtype(), stream(), upper_)}, {0}};
}

// QR of a tall (M >= N) matrix: C = Q^T dA R^-1, Omega = tril(C, -1) - tril(C, -1)^T;
// dR = (C - Omega) R, dQ = dA R^-1 - Q (C - Omega). A wide matrix [X | Y] is QR of X
// with R's extra columns Q^T Y.
namespace {
std::pair<array, array> qr_tall_jvp(const array& q, const array& r, const array& da, S s) {
  array y = right_solve_upper(da, r, s);
  array c = matmul(mT(q, s), y, s);
  array low = tril(c, -1, s);
  array upper_part = add(triu(c, 0, s), mT(low, s), s);  // C - Omega
  return {subtract(y, matmul(q, upper_part, s), s), matmul(upper_part, r, s)};
}
array qr_tall_vjp(const array& q, const array& r, const array& gq, const array& gr, S s) {
  array m = subtract(matmul(r, mT(gr, s), s), matmul(mT(gq, s), q, s), s);
  array copyltu = add(tril(m, 0, s), mT(tril(m, -1, s), s), s);
  return right_solve_upper_t(add(gq, matmul(q, copyltu, s), s), r, s);
}
}  // namespace
std::vector<array> QRF::vjp(const std::vector<array>& primals, const std::vector<array>& cts, const std::vector<int>&,
                            const std::vector<array>& outputs) {
  S s = stream();
  const array& a = primals[0];
  int32_t m = a.shape(-2), n = a.shape(-1);
  const array &q = outputs[0], &r = outputs[1];
  if (m >= n) return {qr_tall_vjp(q, r, cts[0], cts[1], s)};
  array rx = first_cols(r, m, s), gry = cols_from(cts[1], m, s);
  array y = cols_from(a, m, s);
  array gx = qr_tall_vjp(q, rx, add(cts[0], matmul(y, mT(gry, s), s), s), first_cols(cts[1], m, s), s);
  return {concatenate({gx, matmul(q, gry, s)}, -1, s)};
}
std::vector<array> QRF::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>&) {
  S s = stream();
  const array& a = primals[0];
  int32_t m = a.shape(-2), n = a.shape(-1);
  auto outs = make_multi<QRF>({a}, {a.dtype(), a.dtype()}, s);
  if (m >= n) {
    auto [dq, dr] = qr_tall_jvp(outs[0], outs[1], tangents[0], s);
    return {dq, dr};
  }
  array q = outs[0];
  auto [dq, drx] = qr_tall_jvp(q, first_cols(outs[1], m, s), first_cols(tangents[0], m, s), s);
  array dry = add(matmul(mT(dq, s), cols_from(a, m, s), s), matmul(mT(q, s), cols_from(tangents[0], m, s), s), s);
  return {dq, concatenate({drx, dry}, -1, s)};
}
std::pair<std::vector<array>, std::vector<int>> QRF::vmap(const std::vector<array>& inputs,
                                                          const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  return {make_multi<QRF>(x, {x[0].dtype(), x[0].dtype()}, stream()), {0, 0}};
}

// SVD, with Uk, Vk the first K columns of U, V and F[i][j] = 1 / (s_j^2 - s_i^2):
// dP = Uk^T dA Vk, ds = diag(dP), dUk = Uk (F o (dP S + S dP^T)) + (I - Uk Uk^T) dA Vk S^-1,
// dVk = Vk (F o (S dP + dP^T S)) + (I - Vk Vk^T) dA^T Uk S^-1; the cotangent is the adjoint.
namespace {
struct SvdParts {
  array uk, sv, vk;
};
SvdParts svd_parts(const std::vector<array>& outs, S s) {
  int32_t k = outs[1].shape(-1);
  return {first_cols(outs[0], k, s), outs[1], first_cols(mT(outs[2], s), k, s)};
}
}  // namespace
std::vector<array> SVD::vjp(const std::vector<array>& primals, const std::vector<array>& cts, const std::vector<int>&,
                            const std::vector<array>& outputs) {
  S s = stream();
  const array& a = primals[0];
  int32_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Dtype t = a.dtype();
  std::vector<array> outs = compute_uv_ ? outputs : make_multi<SVD>({a}, svd_dtypes(t, true), s, true);
  auto [uk, sv, vk] = svd_parts(outs, s);
  array gs = cts[compute_uv_ ? 1 : 0];
  array inner = diag_embed(gs, s);
  array g_extra = zeros(a.shape(), t, s);
  if (compute_uv_) {
    array guk = first_cols(cts[0], k, s), gvk = first_cols(mT(cts[2], s), k, s);
    array f = inverse_gaps(square(sv, s), s);
    array ut_gu = matmul(mT(uk, s), guk, s), vt_gv = matmul(mT(vk, s), gvk, s);
    array j = multiply(f, subtract(ut_gu, mT(ut_gu, s), s), s);
    array kk = multiply(f, subtract(vt_gv, mT(vt_gv, s), s), s);
    inner = add(inner, add(multiply(j, expand_dims(sv, -2, s), s), multiply(expand_dims(sv, -1, s), kk, s), s), s);
    array inv_s = expand_dims(reciprocal(sv, s), -2, s);  // scales columns
    if (m > k) {  // (I - Uk Uk^T) Gu S^-1 Vk^T
      array proj = subtract(guk, matmul(uk, ut_gu, s), s);
      g_extra = add(g_extra, matmul(multiply(proj, inv_s, s), mT(vk, s), s), s);
    }
    if (n > k) {  // Uk S^-1 Gv^T (I - Vk Vk^T)
      array proj = subtract(gvk, matmul(vk, vt_gv, s), s);
      g_extra = add(g_extra, matmul(multiply(uk, inv_s, s), mT(proj, s), s), s);
    }
  }
  return {add(matmul(matmul(uk, inner, s), mT(vk, s), s), g_extra, s)};
}
std::vector<array> SVD::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>&) {
  S s = stream();
  const array& a = primals[0];
  int32_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  auto outs = make_multi<SVD>({a}, svd_dtypes(a.dtype(), true), s, true);
  auto [uk, sv, vk] = svd_parts(outs, s);
  const array& da = tangents[0];
  array dp = matmul(matmul(mT(uk, s), da, s), vk, s);
  array ds = diag_part(dp, s);
  if (!compute_uv_) return {ds};
  array f = inverse_gaps(square(sv, s), s);
  array row_s = expand_dims(sv, -2, s), col_s = expand_dims(sv, -1, s);  // scale columns, rows
  array du = matmul(uk, multiply(f, add(multiply(dp, row_s, s), multiply(col_s, mT(dp, s), s), s), s), s);
  array dv = matmul(vk, multiply(f, add(multiply(col_s, dp, s), multiply(mT(dp, s), row_s, s), s), s), s);
  array inv_s = expand_dims(reciprocal(sv, s), -2, s);
  if (m > k) {
    array dav = matmul(da, vk, s);
    du = add(du, multiply(subtract(dav, matmul(uk, matmul(mT(uk, s), dav, s), s), s), inv_s, s), s);
  }
  if (n > k) {
    array dau = matmul(mT(da, s), uk, s);
    dv = add(dv, multiply(subtract(dau, matmul(vk, matmul(mT(vk, s), dau, s), s), s), inv_s, s), s);
  }
  return {pad_cols(du, m, s), ds, pad_rows(mT(dv, s), n, s)};
}
std::pair<std::vector<array>, std::vector<int>> SVD::vmap(const std::vector<array>& inputs,
                                                          const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  auto outs = make_multi<SVD>(x, svd_dtypes(x[0].dtype(), compute_uv_), stream(), compute_uv_);
  return {outs, std::vector<int>(outs.size(), 0)};
}

// Eigh, with F[i][j] = 1 / (w_j - w_i): dP = V^T sym(dA) V, dw = diag(dP), dV = V (F o dP);
// the cotangent is sym(V (diag(gw) + F o (V^T gV)) V^T).
std::vector<array> Eigh::vjp(const std::vector<array>& primals, const std::vector<array>& cts, const std::vector<int>&,
                             const std::vector<array>& outputs) {
  S s = stream();
  const array& a = primals[0];
  auto outs = compute_vectors_ ? outputs : make_multi<Eigh>({a}, eigh_dtypes(a.dtype(), true), s, upper_, true);
  const array &w = outs[0], &v = outs[1];
  array inner = diag_embed(cts[0], s);
  if (compute_vectors_) inner = add(inner, multiply(inverse_gaps(w, s), matmul(mT(v, s), cts[1], s), s), s);
  return {sym(matmul(matmul(v, inner, s), mT(v, s), s), s)};
}
std::vector<array> Eigh::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  S s = stream();
  const array& a = primals[0];
  auto outs = make_multi<Eigh>({a}, eigh_dtypes(a.dtype(), true), s, upper_, true);
  const array &w = outs[0], &v = outs[1];
  array dp = matmul(matmul(mT(v, s), sym(tangents[0], s), s), v, s);
  array dw = diag_part(dp, s);
  if (!compute_vectors_) return {dw};
  return {dw, matmul(v, multiply(inverse_gaps(w, s), dp, s), s)};
}
std::pair<std::vector<array>, std::vector<int>> Eigh::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  auto outs = make_multi<Eigh>(x, eigh_dtypes(x[0].dtype(), compute_vectors_), stream(), upper_, compute_vectors_);
  return {outs, std::vector<int>(outs.size(), 0)};
}

// Eig is not differentiable here: zero cotangents and tangents.
std::vector<array> Eig::vjp(const std::vector<array>& primals, const std::vector<array>&, const std::vector<int>&,
                            const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> Eig::jvp(const std::vector<array>& primals, const std::vector<array>&, const std::vector<int>&) {
  auto shapes = output_shapes(primals);
  std::vector<array> out;
  for (auto& sh : shapes) out.push_back(zeros(sh, complex64, stream()));
  return out;
}
std::pair<std::vector<array>, std::vector<int>> Eig::vmap(const std::vector<array>& inputs,
                                                          const std::vector<int>& axes) {
  auto x = batched_front(inputs, axes, stream());
  auto outs = make_multi<Eig>(x, std::vector<Dtype>(compute_vectors_ ? 2 : 1, complex64), stream(), compute_vectors_);
  return {outs, std::vector<int>(outs.size(), 0)};
}

// ---- ops ----------------------------------------------------------------------------------

namespace linalg {

namespace {

void check_float(const array& a, const char* op) {
  if (a.dtype() != float32 && a.dtype() != float64)
    fail(op, "Arrays must have type float32 or float64. Received array with type " + dtype_name(a.dtype()) + ".");
}
void check_matrix(const array& a, const char* op) {
  if (a.ndim() < 2)
    fail(op, "Input array must have >= 2 dimensions. Received array with " + std::to_string(a.ndim()) +
                 " dimensions.");
}
void check_square(const array& a, const char* op) {
  check_matrix(a, op);
  if (a.shape(-1) != a.shape(-2))
    fail(op, "Input must be a square matrix (or a batch of them). Received array with shape " +
                 shape_str(a.shape()) + ".");
}
// float32/float64 matrices, square when asked.
void check_factor_input(const array& a, const char* op, bool square) {
  check_float(a, op);
  if (square) check_square(a, op);
  else check_matrix(a, op);
}
bool parse_uplo(const std::string& uplo, const char* op) {
  if (uplo != "L" && uplo != "U") fail(op, "UPLO must be 'L' or 'U', got '" + uplo + "'.");
  return uplo == "U";
}

// (a, b) for the solves: same float dtype, b as (..., M, K) with batch axes broadcast.
// Returns the inputs and whether b was a vector.
std::pair<std::vector<array>, bool> solve_inputs(const array& a, const array& b, const char* op, S s) {
  Dtype t = result_type(a, b);
  if (t != float32 && t != float64)
    fail(op, "Arrays must have type float32 or float64. Received arrays with types " + dtype_name(a.dtype()) +
                 " and " + dtype_name(b.dtype()) + ".");
  if (a.ndim() < 2 || a.shape(-1) != a.shape(-2))
    fail(op, "First input must be a square matrix (or a batch of them). Received array with shape " +
                 shape_str(a.shape()) + ".");
  if (b.ndim() == 0) fail(op, "Second input must have at least 1 dimension.");
  bool vector = b.ndim() == 1;
  array bm = vector ? expand_dims(b, -1, s) : b;
  if (bm.shape(-2) != a.shape(-1))
    fail(op, "Last dimension of first input with shape " + shape_str(a.shape()) +
                 " must match second to last dimension of second input with shape " + shape_str(b.shape()) + ".");
  Shape batch;
  try {
    batch = broadcast_shapes(batch_of(a), batch_of(bm));
  } catch (const std::invalid_argument&) {
    fail(op, "Batch shapes of " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " cannot be broadcast.");
  }
  array ab = broadcast_to(astype(a, t, s), with_tail(batch, {a.shape(-2), a.shape(-1)}), s);
  array bb = broadcast_to(astype(bm, t, s), with_tail(batch, {bm.shape(-2), bm.shape(-1)}), s);
  return {{ab, bb}, vector};
}

array vector_norm(const array& x, double ord, const std::vector<int>& axes, bool keepdims, S s) {
  array ax = abs(x, s);
  Dtype t = ax.dtype();
  if (ord == 2) return sqrt(sum(square(ax, s), axes, keepdims, s), s);
  if (std::isinf(ord)) return ord > 0 ? max(ax, axes, keepdims, s) : min(ax, axes, keepdims, s);
  if (ord == 0) return astype(sum(not_equal(x, array(0, x.dtype()), s), axes, keepdims, s), t, s);
  if (ord == 1) return sum(ax, axes, keepdims, s);
  return power(sum(power(ax, array(ord, t), s), axes, keepdims, s), array(1.0 / ord, t), s);
}

std::string ord_str(const NormOrd& ord) {
  if (auto* str = std::get_if<std::string>(&ord)) return "'" + *str + "'";
  double v = std::get<double>(ord);
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os << v;
  return os.str();
}

// Singular values of the matrices on axes (row, col) of x.
array singular_values(const array& x, int row, int col, S s) {
  check_float(x, "linalg::norm");
  std::vector<int> perm;
  for (int d = 0; d < static_cast<int>(x.ndim()); ++d)
    if (d != row && d != col) perm.push_back(d);
  perm.push_back(row), perm.push_back(col);
  return svd(transpose(x, perm, s), false, s)[0];
}

// Matrix norm over (row, col) axes of x, with the reduced axes dropped.
array matrix_norm(const array& x, const NormOrd& ord, int row, int col, S s) {
  const char* op = "linalg::norm";
  if (auto* name = std::get_if<std::string>(&ord)) {
    if (*name == "fro") return sqrt(sum(square(abs(x, s), s), std::vector<int>{row, col}, false, s), s);
    if (*name == "nuc") {
      return sum(singular_values(x, row, col, s), -1, false, s);
    }
    fail(op, "Invalid ord " + ord_str(ord) + " for matrix norm.");
  }
  double v = std::get<double>(ord);
  if (v == 2 || v == -2) {
    array sv = singular_values(x, row, col, s);
    return v > 0 ? max(sv, -1, false, s) : min(sv, -1, false, s);
  }
  if (v == 1 || v == -1 || std::isinf(v)) {
    // 1: largest column sum (sum over rows); inf: largest row sum.
    bool by_cols = v == 1 || v == -1;
    int summed = by_cols ? row : col, kept = by_cols ? col : row;
    array sums = sum(abs(x, s), summed, false, s);
    int k = kept > summed ? kept - 1 : kept;
    return v > 0 ? max(sums, k, false, s) : min(sums, k, false, s);
  }
  fail(op, "Invalid ord " + ord_str(ord) + " for matrix norm.");
}

}  // namespace

array norm(const array& a_in, const std::optional<NormOrd>& ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, S s) {
  const char* op = "linalg::norm";
  if (a_in.dtype() == bool_) fail(op, "bool inputs are not supported.");
  array a = is_integral(a_in.dtype()) ? astype(a_in, float32, s) : a_in;
  int nd = static_cast<int>(a.ndim());
  std::vector<int> axes;
  if (axis) {
    axes = *axis;
    for (auto& d : axes) d = normalize_axis(d, nd, op);
    if (axes.size() == 2 && axes[0] == axes[1]) fail(op, "Duplicate axes in " + shape_str(Shape(axes.begin(), axes.end())) + ".");
    if (axes.empty() || axes.size() > 2)
      fail(op, "Received " + std::to_string(axes.size()) + " axes; a norm takes 1 (vector) or 2 (matrix).");
  } else {
    if (!ord) {  // the 2-norm of everything
      std::vector<int> all(nd);
      for (int d = 0; d < nd; ++d) all[d] = d;
      return sqrt(sum(square(abs(a, s), s), all, keepdims, s), s);
    }
    if (nd == 1) axes = {0};
    else if (nd == 2) axes = {0, 1};
    else fail(op, "Received too many axes for norm: an input of " + std::to_string(nd) + " dimensions needs axis.");
  }
  array result = [&] {
    if (axes.size() == 1) {
      if (ord && std::holds_alternative<std::string>(*ord))
        fail(op, "Norm " + ord_str(*ord) + " only supported for matrices, but received 1 axis.");
      return vector_norm(a, ord ? std::get<double>(*ord) : 2.0, axes, false, s);
    }
    return matrix_norm(a, ord ? *ord : NormOrd(std::string("fro")), axes[0], axes[1], s);
  }();
  if (!keepdims) return result;
  Shape kept = a.shape();
  for (int d : axes) kept[d] = 1;
  return reshape(result, kept, s);
}

array norm(const array& a, const std::optional<std::vector<int>>& axis, bool keepdims, S s) {
  return norm(a, std::optional<NormOrd>(), axis, keepdims, s);
}
array norm(const array& a, double ord, const std::optional<std::vector<int>>& axis, bool keepdims, S s) {
  return norm(a, std::optional<NormOrd>(ord), axis, keepdims, s);
}
array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis, bool keepdims,
           S s) {
  return norm(a, std::optional<NormOrd>(ord), axis, keepdims, s);
}

std::vector<array> qr(const array& a, S s) {
  check_factor_input(a, "linalg::qr", false);
  return make_multi<QRF>({a}, {a.dtype(), a.dtype()}, s);
}

std::vector<array> svd(const array& a, bool compute_uv, S s) {
  check_factor_input(a, "linalg::svd", false);
  return make_multi<SVD>({a}, svd_dtypes(a.dtype(), compute_uv), s, compute_uv);
}

array inv(const array& a, S s) {
  check_factor_input(a, "linalg::inv", true);
  return make_node<Inverse>({a}, a.dtype(), s, false, false);
}

array tri_inv(const array& a, bool upper, S s) {
  check_factor_input(a, "linalg::tri_inv", true);
  return make_node<Inverse>({a}, a.dtype(), s, true, upper);
}

array pinv(const array& a, S s) {
  check_factor_input(a, "linalg::pinv", false);
  int32_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  if (k == 0) return zeros(with_tail(batch_of(a), {n, m}), a.dtype(), s);
  auto usv = svd(a, true, s);
  array uk = first_cols(usv[0], k, s), vkt = first_rows(usv[2], k, s), sv = usv[1];
  // Singular values below max(M, N) * eps * largest count as zero (NumPy's and MLX's rule).
  array cutoff = multiply(max(sv, -1, true, s), array(std::max(m, n) * finfo(a.dtype()).eps, a.dtype()), s);
  array keep = greater(sv, cutoff, s);
  array one(1.0, a.dtype());
  array sinv = where(keep, divide(one, where(keep, sv, one, s), s), array(0.0, a.dtype()), s);
  return matmul(multiply(mT(vkt, s), expand_dims(sinv, -2, s), s), mT(uk, s), s);
}

array cholesky(const array& a, bool upper, S s) {
  check_factor_input(a, "linalg::cholesky", true);
  return make_node<Cholesky>({a}, a.dtype(), s, upper);
}

array cholesky_inv(const array& l, bool upper, S s) {
  check_factor_input(l, "linalg::cholesky_inv", true);
  array li = tri_inv(l, upper, s);
  // Lower: A = L L^T, A^-1 = L^-T L^-1. Upper: A = U^T U, A^-1 = U^-1 U^-T.
  return upper ? matmul(li, mT(li, s), s) : matmul(mT(li, s), li, s);
}

array solve(const array& a, const array& b, S s) {
  auto [in, vector] = solve_inputs(a, b, "linalg::solve", s);
  array x = make_node<Solve>(in, in[0].dtype(), s);
  return vector ? squeeze(x, -1, s) : x;
}

array solve_triangular(const array& a, const array& b, bool upper, S s) {
  auto [in, vector] = solve_inputs(a, b, "linalg::solve_triangular", s);
  array x = make_node<SolveTriangular>(in, in[0].dtype(), s, upper);
  return vector ? squeeze(x, -1, s) : x;
}

std::vector<array> eig(const array& a, S s) {
  check_factor_input(a, "linalg::eig", true);
  return make_multi<Eig>({a}, {complex64, complex64}, s, true);
}
array eigvals(const array& a, S s) {
  check_factor_input(a, "linalg::eigvals", true);
  return make_multi<Eig>({a}, {complex64}, s, false)[0];
}

std::vector<array> eigh(const array& a, const std::string& UPLO, S s) {
  bool upper = parse_uplo(UPLO, "linalg::eigh");
  check_factor_input(a, "linalg::eigh", true);
  return make_multi<Eigh>({a}, eigh_dtypes(a.dtype(), true), s, upper, true);
}
array eigvalsh(const array& a, const std::string& UPLO, S s) {
  bool upper = parse_uplo(UPLO, "linalg::eigvalsh");
  check_factor_input(a, "linalg::eigvalsh", true);
  return make_multi<Eigh>({a}, eigh_dtypes(a.dtype(), false), s, upper, false)[0];
}

namespace {
std::vector<array> lu_outputs(const array& a, const char* op, S s) {
  check_factor_input(a, op, false);
  return make_multi<LUFactor>({a}, {a.dtype(), uint32, uint32}, s);
}
}  // namespace

std::vector<array> lu(const array& a, S s) {
  auto outs = lu_outputs(a, "linalg::lu", s);
  int32_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  array L = add(tril(first_cols(outs[0], k, s), -1, s), eye(m, k, 0, a.dtype(), s), s);
  array U = triu(first_rows(outs[0], k, s), 0, s);
  return {outs[2], L, U};
}

std::vector<array> lu_factor(const array& a, S s) {
  auto outs = lu_outputs(a, "linalg::lu_factor", s);
  return {outs[0], outs[1]};
}

namespace {
// +1 or -1: the parity of the row swaps recorded in `pivots`.
array pivot_sign(const array& pivots, Dtype t, S s) {
  int32_t k = pivots.shape(-1);
  array swaps = sum(not_equal(pivots, arange(0, k, 1, uint32, s), s), -1, false, s);
  array odd = astype(remainder(swaps, array(2, swaps.dtype()), s), t, s);
  return subtract(array(1.0, t), multiply(array(2.0, t), odd, s), s);
}
}  // namespace

array det(const array& a, S s) {
  check_factor_input(a, "linalg::det", true);
  auto outs = make_multi<LUFactor>({a}, {a.dtype(), uint32, uint32}, s);
  return multiply(pivot_sign(outs[1], a.dtype(), s), prod(diag_part(outs[0], s), -1, false, s), s);
}

std::vector<array> slogdet(const array& a, S s) {
  check_factor_input(a, "linalg::slogdet", true);
  auto outs = make_multi<LUFactor>({a}, {a.dtype(), uint32, uint32}, s);
  array d = diag_part(outs[0], s);
  array sgn = multiply(pivot_sign(outs[1], a.dtype(), s), prod(sign(d, s), -1, false, s), s);
  return {sgn, sum(log(abs(d, s), s), -1, false, s)};
}

array cross(const array& a, const array& b, int axis, S s) {
  const char* op = "linalg::cross";
  if (a.ndim() == 0 || b.ndim() == 0) fail(op, "Inputs must have at least 1 dimension.");
  int aa = normalize_axis(axis, static_cast<int>(a.ndim()), op);
  int ba = normalize_axis(axis, static_cast<int>(b.ndim()), op);
  int32_t na = a.shape(aa), nb = b.shape(ba);
  if ((na != 2 && na != 3) || (nb != 2 && nb != 3))
    fail(op, "The specified axis must have size 2 or 3, got sizes " + std::to_string(na) + " and " +
                 std::to_string(nb) + ".");
  Dtype t = result_type(a, b);
  if (t == bool_) fail(op, "bool inputs are not supported.");
  // Components along a last axis, a missing third one being zero.
  auto components = [&](const array& x, int ax) {
    array xl = moveaxis(astype(x, t, s), ax, -1, s);
    std::vector<array> c;
    for (int32_t i = 0; i < xl.shape(-1); ++i) {
      Shape start(xl.ndim(), 0), stop = xl.shape();
      start.back() = i, stop.back() = i + 1;
      c.push_back(slice(xl, start, stop, s));
    }
    if (c.size() == 2) c.push_back(zeros_like(c[0], s));
    return c;
  };
  auto x = components(a, aa), y = components(b, ba);
  auto term = [&](int i, int j) { return subtract(multiply(x[i], y[j], s), multiply(x[j], y[i], s), s); };
  array out = concatenate({term(1, 2), term(2, 0), term(0, 1)}, -1, s);
  return moveaxis(out, -1, normalize_axis(axis, static_cast<int>(out.ndim()), op), s);
}

}  // namespace linalg
}  // namespace lazuli

namespace lazuli {
namespace {
// One (..., M, N) input, square when asked.
void read_matrix(Reader& r, bool square) {
  r.arity(1);
  const Shape& a = r.input_shape(0);
  if (a.size() < 2 || (square && a[a.size() - 1] != a[a.size() - 2]))
    r.fail("a linalg primitive gets the input " + detail::shape_str(a));
  if (r.in_dtype(0) != float32 && r.in_dtype(0) != float64) r.fail("a linalg primitive gets " + dtype_name(r.in_dtype(0)));
}
// (a (..., M, M), b (..., M, K)) with equal batch axes.
void read_system(Reader& r) {
  r.arity(2);
  const Shape &a = r.input_shape(0), &b = r.input_shape(1);
  if (a.size() < 2 || a.size() != b.size() || a[a.size() - 1] != a[a.size() - 2] || b[b.size() - 2] != a.back() ||
      !std::equal(a.begin(), a.end() - 2, b.begin()))
    r.fail("a solve gets " + detail::shape_str(a) + " and " + detail::shape_str(b));
  if (r.in_dtype(0) != float32 && r.in_dtype(0) != float64) r.fail("a solve gets " + dtype_name(r.in_dtype(0)));
  r.same_input_dtypes();
  r.outputs_like(0);
}
}  // namespace
LAZULI_PRIMITIVE_READER(LUFactor) {
  read_matrix(r, false);
  r.expect_output(0, r.in_dtype(0)), r.expect_output(1, uint32), r.expect_output(2, uint32);
  return std::make_shared<LUFactor>(s);
}
LAZULI_PRIMITIVE_READER(Inverse) {
  read_matrix(r, true);
  r.outputs_like(0);
  bool triangular = r.boolean(), upper = r.boolean();
  return std::make_shared<Inverse>(s, triangular, upper);
}
LAZULI_PRIMITIVE_READER(Solve) {
  read_system(r);
  return std::make_shared<Solve>(s);
}
LAZULI_PRIMITIVE_READER(SolveTriangular) {
  read_system(r);
  return std::make_shared<SolveTriangular>(s, r.boolean());
}
LAZULI_PRIMITIVE_READER(Cholesky) {
  read_matrix(r, true);
  r.outputs_like(0);
  return std::make_shared<Cholesky>(s, r.boolean());
}
LAZULI_PRIMITIVE_READER(QRF) {
  read_matrix(r, false);
  r.outputs_like(0);
  return std::make_shared<QRF>(s);
}
LAZULI_PRIMITIVE_READER(SVD) {
  read_matrix(r, false);
  r.outputs_like(0);
  return std::make_shared<SVD>(s, r.boolean());
}
LAZULI_PRIMITIVE_READER(Eigh) {
  read_matrix(r, true);
  r.outputs_like(0);
  bool upper = r.boolean(), vectors = r.boolean();
  return std::make_shared<Eigh>(s, upper, vectors);
}
LAZULI_PRIMITIVE_READER(Eig) {
  read_matrix(r, true);
  for (size_t i = 0; i < r.output_dtypes.size(); ++i) r.expect_output(i, complex64);
  return std::make_shared<Eig>(s, r.boolean());
}
}  // namespace lazuli
