// The linear-algebra primitives: one LAPACK factorization or solve per matrix of the
// (..., M, N) input, batched over the leading axes. Inputs are already float32/float64 and
// their batch axes broadcast by the ops (lazuli/ops/decompositions.cpp); the kernels are in
// backend/cpu/lapack.cpp and, through cuSOLVER, backend/cuda/linalg.cpp.
#pragma once
#include "lazuli/primitives.h"

namespace lazuli {

// (a) -> (LU (..., M, N), pivots (..., K) uint32, perm (..., M) uint32) with a = L[perm] @ U.
// Differentiable (through LU) for square matrices.
class LUFactor : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "LUFactor"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(LUFactor)
};

// (a) -> a^-1. With `triangular`, a is triangular (its `upper` or lower triangle is read).
class Inverse : public Primitive {
 public:
  Inverse(Stream s, bool triangular, bool upper) : Primitive(s), triangular_(triangular), upper_(upper) {}
  std::string name() const override { return "Inverse"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Inverse)
  void write(Writer& w) const override { w.boolean(triangular_), w.boolean(upper_); }
  bool triangular() const { return triangular_; }
  bool upper() const { return upper_; }

 private:
  bool triangular_, upper_;
};

// (a (..., M, M), b (..., M, K)) -> x with a x = b; batch axes equal.
class Solve : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "Solve"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Solve)
};

// Solve with a triangular a (its `upper` or lower triangle is read).
class SolveTriangular : public Primitive {
 public:
  SolveTriangular(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  std::string name() const override { return "SolveTriangular"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(SolveTriangular)
  void write(Writer& w) const override { w.boolean(upper_); }
  bool upper() const { return upper_; }

 private:
  bool upper_;
};

// (a) -> its Cholesky factor, lower (a = L L^T) or upper (a = U^T U), reading that triangle
// of a. Transform rules treat a as symmetric.
class Cholesky : public Primitive {
 public:
  Cholesky(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  std::string name() const override { return "Cholesky"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Cholesky)
  void write(Writer& w) const override { w.boolean(upper_); }
  bool upper() const { return upper_; }

 private:
  bool upper_;
};

// (a) -> (Q (..., M, K), R (..., K, N)), the reduced QR factorization.
class QRF : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "QRF"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(QRF)
};

// (a) -> (U (..., M, M), S (..., K), Vt (..., N, N)) with compute_uv, else (S).
class SVD : public Primitive {
 public:
  SVD(Stream s, bool compute_uv) : Primitive(s), compute_uv_(compute_uv) {}
  std::string name() const override { return "SVD"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(SVD)
  void write(Writer& w) const override { w.boolean(compute_uv_); }
  bool compute_uv() const { return compute_uv_; }

 private:
  bool compute_uv_;
};

// (a) -> (w (..., M), V (..., M, M)) of a symmetric matrix (ascending w), else (w); reads the
// lower or upper triangle. Transform rules treat a as symmetric.
class Eigh : public Primitive {
 public:
  Eigh(Stream s, bool upper, bool compute_vectors)
      : Primitive(s), upper_(upper), compute_vectors_(compute_vectors) {}
  std::string name() const override { return "Eigh"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Eigh)
  void write(Writer& w) const override { w.boolean(upper_), w.boolean(compute_vectors_); }
  bool upper() const { return upper_; }
  bool compute_vectors() const { return compute_vectors_; }

 private:
  bool upper_, compute_vectors_;
};

// (a) -> (w (..., M), V (..., M, M)) complex64 eigenvalues and right eigenvectors of a general
// matrix, else (w). Not differentiable (zero cotangents and tangents).
class Eig : public Primitive {
 public:
  Eig(Stream s, bool compute_vectors) : Primitive(s), compute_vectors_(compute_vectors) {}
  std::string name() const override { return "Eig"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Eig)
  void write(Writer& w) const override { w.boolean(compute_vectors_); }
  bool compute_vectors() const { return compute_vectors_; }

 private:
  bool compute_vectors_;
};

}  // namespace lazuli
