// Python bindings of mx.linalg (and the top-level alias mx.matrix_norm).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <string>

#include "convert.h"
#include "lazuli/linalg.h"

using lz::array;
namespace py = lz::py;
namespace la = lz::linalg;

using py::stream_of;

namespace {

std::optional<la::NormOrd> to_ord(nb::handle ord) {
  if (ord.is_none()) return std::nullopt;
  if (nb::isinstance<nb::str>(ord)) return la::NormOrd(std::string(nb::cast<std::string>(ord)));
  if (nb::isinstance<nb::bool_>(ord) || !(nb::isinstance<nb::int_>(ord) || nb::isinstance<nb::float_>(ord)))
    py::type_error("[linalg::norm] ord must be None, a number or a string, got " + py::py_type_name(ord) + ".");
  return la::NormOrd(nb::cast<double>(ord));
}

nb::tuple as_tuple(const std::vector<array>& v) {
  nb::list l;
  for (auto& a : v) l.append(nb::cast(a));
  return nb::tuple(l);
}

}  // namespace

void init_linalg(nb::module_& m) {
  nb::module_ la_m = m.def_submodule("linalg", "Linear algebra: norms, factorizations, inverses and solves.");

  auto norm = [](nb::handle a, nb::handle ord, nb::handle axis, bool keepdims, nb::handle s) {
    return la::norm(py::to_array(a), to_ord(ord), py::to_axes(axis), keepdims, stream_of(s));
  };
  const char* norm_doc =
      "Matrix or vector norm. ord: None, a number (vector p-norms; matrix 1, -1, 2, -2, inf, -inf) or "
      "'fro' / 'nuc'. axis: an int (vector norms) or two ints (matrix norms); None takes a 1-D or "
      "2-D input whole, or with ord None the 2-norm of the flattened array.";
  la_m.def("norm", norm, "a"_a, "ord"_a = nb::none(), "axis"_a = nb::none(), "keepdims"_a = false,
           nb::kw_only(), "stream"_a = nb::none(), norm_doc);
  m.def("matrix_norm", norm, "a"_a, "ord"_a = nb::none(), "axis"_a = nb::none(),
        "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none(), norm_doc);

  la_m.def(
      "qr", [](nb::handle a, nb::handle s) { return as_tuple(la::qr(py::to_array(a), stream_of(s))); }, "a"_a,
      nb::kw_only(), "stream"_a = nb::none(), "Reduced QR factorization: (Q, R) with Q @ R = a.");
  la_m.def(
      "svd",
      [](nb::handle a, bool compute_uv, nb::handle s) -> nb::object {
        auto r = la::svd(py::to_array(a), compute_uv, stream_of(s));
        return compute_uv ? nb::object(as_tuple(r)) : nb::cast(r[0]);
      },
      "a"_a, "compute_uv"_a = true, nb::kw_only(), "stream"_a = nb::none(),
      "Singular value decomposition: (U, S, Vt) with a = U[:, :K] @ diag(S) @ Vt[:K], or S alone.");
  la_m.def(
      "inv", [](nb::handle a, nb::handle s) { return la::inv(py::to_array(a), stream_of(s)); }, "a"_a, nb::kw_only(),
      "stream"_a = nb::none(), "Inverse of a square matrix; raises ValueError when it is singular.");
  la_m.def(
      "tri_inv",
      [](nb::handle a, bool upper, nb::handle s) { return la::tri_inv(py::to_array(a), upper, stream_of(s)); },
      "a"_a, "upper"_a = false, nb::kw_only(), "stream"_a = nb::none(), "Inverse of a triangular matrix.");
  la_m.def(
      "pinv", [](nb::handle a, nb::handle s) { return la::pinv(py::to_array(a), stream_of(s)); }, "a"_a,
      nb::kw_only(), "stream"_a = nb::none(), "Moore-Penrose pseudo-inverse, through the SVD.");
  la_m.def(
      "cholesky",
      [](nb::handle a, bool upper, nb::handle s) { return la::cholesky(py::to_array(a), upper, stream_of(s)); },
      "a"_a, "upper"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Cholesky factor of a symmetric positive-definite matrix (lower, or upper).");
  la_m.def(
      "cholesky_inv",
      [](nb::handle l, bool upper, nb::handle s) { return la::cholesky_inv(py::to_array(l), upper, stream_of(s)); },
      "L"_a, "upper"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Inverse of A from its Cholesky factor L (A = L L^T), or U (A = U^T U) with upper.");
  la_m.def(
      "solve",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return la::solve(py::to_array(a), py::to_array(b), stream_of(s));
      },
      "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none(), "Solution X of a @ X = b.");
  la_m.def(
      "solve_triangular",
      [](nb::handle a, nb::handle b, bool upper, nb::handle s) {
        return la::solve_triangular(py::to_array(a), py::to_array(b), upper, stream_of(s));
      },
      "a"_a, "b"_a, nb::kw_only(), "upper"_a = false, "stream"_a = nb::none(),
      "Solution X of a @ X = b for a triangular a.");
  la_m.def(
      "eig", [](nb::handle a, nb::handle s) { return as_tuple(la::eig(py::to_array(a), stream_of(s))); }, "a"_a,
      nb::kw_only(), "stream"_a = nb::none(), "Eigenvalues and right eigenvectors (columns), complex64.");
  la_m.def(
      "eigvals", [](nb::handle a, nb::handle s) { return la::eigvals(py::to_array(a), stream_of(s)); }, "a"_a,
      nb::kw_only(), "stream"_a = nb::none(), "Eigenvalues of a square matrix, complex64.");
  la_m.def(
      "eigh",
      [](nb::handle a, const std::string& uplo, nb::handle s) {
        return as_tuple(la::eigh(py::to_array(a), uplo, stream_of(s)));
      },
      "a"_a, "UPLO"_a = "L", nb::kw_only(), "stream"_a = nb::none(),
      "Ascending eigenvalues and orthonormal eigenvectors of a symmetric matrix.");
  la_m.def(
      "eigvalsh",
      [](nb::handle a, const std::string& uplo, nb::handle s) {
        return la::eigvalsh(py::to_array(a), uplo, stream_of(s));
      },
      "a"_a, "UPLO"_a = "L", nb::kw_only(), "stream"_a = nb::none(), "Ascending eigenvalues of a symmetric matrix.");
  la_m.def(
      "lu", [](nb::handle a, nb::handle s) { return as_tuple(la::lu(py::to_array(a), stream_of(s))); }, "a"_a,
      nb::kw_only(), "stream"_a = nb::none(), "LU factorization: (p, L, U) with a = L[p] @ U (p: uint32 indices).");
  la_m.def(
      "lu_factor", [](nb::handle a, nb::handle s) { return as_tuple(la::lu_factor(py::to_array(a), stream_of(s))); },
      "a"_a, nb::kw_only(), "stream"_a = nb::none(),
      "Compact LU factorization: (LU, pivots), pivots uint32 and 0-based as LAPACK's row swaps.");
  la_m.def(
      "det", [](nb::handle a, nb::handle s) { return la::det(py::to_array(a), stream_of(s)); }, "a"_a,
      nb::kw_only(), "stream"_a = nb::none(), "Determinant of a square matrix.");
  la_m.def(
      "slogdet", [](nb::handle a, nb::handle s) { return as_tuple(la::slogdet(py::to_array(a), stream_of(s))); },
      "a"_a, nb::kw_only(), "stream"_a = nb::none(), "(sign, log|det|) of a square matrix.");
  la_m.def(
      "cross",
      [](nb::handle a, nb::handle b, int axis, nb::handle s) {
        auto [x, y] = py::to_arrays(a, b);
        return la::cross(x, y, axis, stream_of(s));
      },
      "a"_a, "b"_a, "axis"_a = -1, nb::kw_only(), "stream"_a = nb::none(),
      "Cross product along an axis of size 2 or 3 (a size-2 vector has a zero third component).");
}
