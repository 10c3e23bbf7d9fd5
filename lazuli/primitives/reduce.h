// Primitives that read a shape at run time rather than when the graph is built, so that a
// function exported with shapeless=True divides by the element count of its new inputs.
#pragma once
#include <vector>

#include "lazuli/primitives.h"

namespace lazuli {

// (a) -> 0-d of `dtype`: the number of elements of `a` over `axes`, less `ddof`; with
// `inverted`, its reciprocal (inf when the count is not positive). mean and var divide by it.
class NumberOfElements : public Primitive {
 public:
  NumberOfElements(Stream s, std::vector<int> axes, int ddof, bool inverted, Dtype dtype)
      : Primitive(s), axes_(std::move(axes)), ddof_(ddof), inverted_(inverted), dtype_(dtype) {}
  std::string name() const override { return "NumberOfElements"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override { return {{}}; }
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(NumberOfElements)
  void write(Writer& w) const override { w.ints(axes_), w.i32(ddof_), w.boolean(inverted_), w.dtype(dtype_); }

  // The value for an input of this shape.
  double value(const Shape& shape) const;

 private:
  std::vector<int> axes_;
  int ddof_;
  bool inverted_;
  Dtype dtype_;
};

}  // namespace lazuli
