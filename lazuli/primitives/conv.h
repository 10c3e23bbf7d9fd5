// The Convolution primitive: (input, weight) -> output, channels-last, every parameter of
// conv_general. Shapes and transform rules in lazuli/ops/conv.cpp, the CPU kernel in
// lazuli/backend/cpu/conv.cpp.
#pragma once
#include <vector>

#include "lazuli/primitives.h"

namespace lazuli {

// out[n, o..., co] = sum over k..., c of
//   padded(dilated(input))[n, o * stride + k * kernel_dilation, g * C_in_g + c] * w[co, k'..., c]
// with g = co / (C_out / groups) and k' = k (flip = false) or kernel - 1 - k (flip = true).
// Padding may be negative (cropping); ops check that the result is not empty of meaning.
class Convolution : public Primitive {
 public:
  struct Params {
    std::vector<int> stride, padding_lo, padding_hi, kernel_dilation, input_dilation;
    int groups = 1;
    bool flip = false;
    bool operator==(const Params&) const = default;
  };
  Convolution(Stream s, Params p) : Primitive(s), p_(std::move(p)) {}
  const Params& params() const { return p_; }
  std::string name() const override { return "Convolution"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Convolution)
  void write(Writer& w) const override {
    w.ints(p_.stride), w.ints(p_.padding_lo), w.ints(p_.padding_hi), w.ints(p_.kernel_dilation),
        w.ints(p_.input_dilation), w.i32(p_.groups), w.boolean(p_.flip);
  }

  // Output length of one spatial dimension.
  static int output_length(int in, int kernel, int stride, int lo, int hi, int kernel_dilation,
                           int input_dilation);

 private:
  Params p_;
};

}  // namespace lazuli
