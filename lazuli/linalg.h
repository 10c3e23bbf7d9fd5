// Linear algebra (MLX's mx.linalg): norms, factorizations, inverses, solves and
// eigendecompositions of float32/float64 matrices, batched over the leading axes.
// Factorizations run on the CPU through LAPACK.
#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/ops.h"

namespace lazuli::linalg {

// Order of a norm: a number (vector p-norms, matrix 1, -1, 2, -2, inf, -inf) or a name
// ("fro", "nuc").
using NormOrd = std::variant<double, std::string>;

// Vector or matrix norm. Without `ord` and `axis`: the 2-norm of the flattened array. One
// axis (or a 1-D input) gives vector norms, two axes (or a 2-D input) matrix norms. The
// overloads are MLX's; the last takes any order (std::nullopt: the default).
array norm(const array& a, const std::optional<std::vector<int>>& axis = std::nullopt, bool keepdims = false,
           S s = {});
array norm(const array& a, double ord, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, S s = {});
array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, S s = {});
array norm(const array& a, const std::optional<NormOrd>& ord, const std::optional<std::vector<int>>& axis,
           bool keepdims = false, S s = {});

// Reduced QR: Q (..., M, K), R (..., K, N), K = min(M, N).
std::vector<array> qr(const array& a, S s = {});
// (U (..., M, M), S (..., K), Vt (..., N, N)) with compute_uv, else {S}.
std::vector<array> svd(const array& a, bool compute_uv = true, S s = {});
array inv(const array& a, S s = {});
// Inverse of a triangular matrix (only its `upper` or lower triangle is read).
array tri_inv(const array& a, bool upper = false, S s = {});
array pinv(const array& a, S s = {});
// Cholesky factor L (A = L L^T) or, with `upper`, U (A = U^T U). Reads one triangle.
array cholesky(const array& a, bool upper = false, S s = {});
// A^-1 from A's Cholesky factor.
array cholesky_inv(const array& l, bool upper = false, S s = {});
// X with A X = B; b of rank 1 is a vector, otherwise (..., M, K) with batch axes broadcast.
array solve(const array& a, const array& b, S s = {});
array solve_triangular(const array& a, const array& b, bool upper = false, S s = {});
// Eigenvalues (and right eigenvectors as columns) of a general matrix: complex64.
std::vector<array> eig(const array& a, S s = {});
array eigvals(const array& a, S s = {});
// Ascending eigenvalues (and orthonormal eigenvectors) of a symmetric matrix, reading its
// lower ("L") or upper ("U") triangle.
std::vector<array> eigh(const array& a, const std::string& UPLO = "L", S s = {});
array eigvalsh(const array& a, const std::string& UPLO = "L", S s = {});
// (p, L, U) with A = L[p] @ U (p: uint32 row indices), as MLX returns them.
std::vector<array> lu(const array& a, S s = {});
// (LU, pivots): L below the diagonal (unit diagonal implied) and U on and above it; row i was
// swapped with row pivots[i] (uint32, 0-based).
std::vector<array> lu_factor(const array& a, S s = {});
array det(const array& a, S s = {});
// (sign, log|det|)
std::vector<array> slogdet(const array& a, S s = {});
array cross(const array& a, const array& b, int axis = -1, S s = {});

}  // namespace lazuli::linalg
