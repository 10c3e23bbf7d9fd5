// The quantization primitives (see lazuli/quantized.h for the format). Shapes and transform
// rules live in lazuli/ops/quantized.cpp, kernels in lazuli/backend/cpu/quantized.cpp.
#pragma once
#include <string>

#include "lazuli/primitives.h"

namespace lazuli {

enum class QuantizationMode { Affine, Mxfp4, Mxfp8, Nvfp4 };
const char* mode_name(QuantizationMode mode);

// The parameters every quantization primitive carries.
struct QuantParams {
  int group_size;
  int bits;
  QuantizationMode mode;
  bool operator==(const QuantParams& o) const {
    return group_size == o.group_size && bits == o.bits && mode == o.mode;
  }
};
inline void write_quant(Writer& w, const QuantParams& p) { w.i32(p.group_size), w.i32(p.bits), w.enumeration(p.mode); }
QuantParams read_quant(Reader& r);

// (w[, global_scale]) -> (w_q, scales[, biases]). Not differentiable (its outputs are codes).
class Quantize : public Primitive {
 public:
  Quantize(Stream s, QuantParams p) : Primitive(s), p_(p) {}
  std::string name() const override { return "Quantize"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Quantize)
  void write(Writer& w) const override { write_quant(w, p_); }
  const QuantParams& params() const { return p_; }

 private:
  QuantParams p_;
};

// affine: (w, scales, biases); fp modes: (w, scales[, global_scale]). Linear in the scales and
// biases, which carry the derivatives (the codes and uint8 scales have none).
class Dequantize : public Primitive {
 public:
  Dequantize(Stream s, QuantParams p, Dtype dtype) : Primitive(s), p_(p), dtype_(dtype) {}
  std::string name() const override { return "Dequantize"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Dequantize)
  void write(Writer& w) const override { write_quant(w, p_), w.dtype(dtype_); }
  const QuantParams& params() const { return p_; }

 private:
  QuantParams p_;
  Dtype dtype_;  // the output's
};

// (x, w, scales[, biases]) -> x @ dequantize(w)(.T). Batch axes are already broadcast by the op
// when w has them; with a 2-D w, x may have any batch shape.
class QuantizedMatmul : public Primitive {
 public:
  QuantizedMatmul(Stream s, QuantParams p, bool transpose) : Primitive(s), p_(p), transpose_(transpose) {}
  std::string name() const override { return "QuantizedMatmul"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(QuantizedMatmul)
  void write(Writer& w) const override { write_quant(w, p_), w.boolean(transpose_); }
  const QuantParams& params() const { return p_; }
  bool transposed() const { return transpose_; }

 private:
  QuantParams p_;
  bool transpose_;
};

// (x, w, scales[, biases], lhs_indices, rhs_indices) with uint32 indices of one (broadcast)
// shape I -> I + (M, N).
class GatherQMM : public Primitive {
 public:
  GatherQMM(Stream s, QuantParams p, bool transpose) : Primitive(s), p_(p), transpose_(transpose) {}
  std::string name() const override { return "GatherQMM"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(GatherQMM)
  void write(Writer& w) const override { write_quant(w, p_), w.boolean(transpose_); }
  const QuantParams& params() const { return p_; }
  bool transposed() const { return transpose_; }

 private:
  QuantParams p_;
  bool transpose_;
};

// Elementwise float -> e4m3 code (uint8).
class ToFP8 : public ElementwisePrimitive {
 public:
  using ElementwisePrimitive::ElementwisePrimitive;
  std::string name() const override { return "ToFP8"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(ToFP8)
};

// Elementwise e4m3 code (uint8) -> the output's floating dtype.
class FromFP8 : public ElementwisePrimitive {
 public:
  FromFP8(Stream s, Dtype dtype) : ElementwisePrimitive(s), dtype_(dtype) {}
  std::string name() const override { return "FromFP8"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(FromFP8)
  void write(Writer& w) const override { w.dtype(dtype_); }

 private:
  Dtype dtype_;
};

}  // namespace lazuli
