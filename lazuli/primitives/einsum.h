// Primitives of the einsum family: the Walsh-Hadamard transform and the gathered and
// segmented matmuls. (einsum and block_masked_mm are compositions of existing ops.)
#pragma once
#include "lazuli/primitives.h"

namespace lazuli {

// y = scale * (H_m kron H_2^k) x along the last axis, n = m * 2^k: H_2^k is Sylvester's
// Hadamard matrix, H_m (m in {1, 12, 20, 28}) one of order m, indexed with the m-part most
// significant. `transposed` applies the transpose of H_m instead (H_20 and H_28 are not
// symmetric), which is what the vjp needs; the 2^k part is symmetric.
class Hadamard : public Primitive {
 public:
  Hadamard(Stream s, int m, double scale, bool transposed)
      : Primitive(s), m_(m), scale_(scale), transposed_(transposed) {}
  std::string name() const override { return "Hadamard"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Hadamard)
  void write(Writer& w) const override { w.i32(m_), w.f64(scale_), w.boolean(transposed_); }

  int m() const { return m_; }
  double scale() const { return scale_; }
  bool transposed() const { return transposed_; }

 private:
  int m_;
  double scale_;
  bool transposed_;
};

// out[l] = a[lhs[l]] @ b[rhs[l]] for a (A, M, K), b (B, K, N) and 1-D integer indices of
// equal length L (negative ones count from the end): output (L, M, N). The matrices are
// read where they lie, never gathered into copies.
class GatherMM : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "GatherMM"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(GatherMM)
};

// out[s] = a[:, start_s:end_s] @ b[start_s:end_s, :] for a (M, K), b (K, N) and integer
// segments (S, 2) of (start, end) pairs, clipped to [0, K] (empty: zeros). Output (S, M, N).
class SegmentedMM : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "SegmentedMM"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(SegmentedMM)
};

namespace detail {
// Row i of H_m as '+'/'-' characters (m in {12, 20, 28}); shared by kernels and tests.
const char* hadamard_row(int m, int i);
}  // namespace detail

}  // namespace lazuli
