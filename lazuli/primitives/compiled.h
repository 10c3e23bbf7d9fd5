// The primitive that compile's fusion makes: a group of elementwise nodes run as one pass
// over memory. It is backend-neutral (a list of the original primitives over registers);
// the CPU backend interprets it tile by tile, and a GPU backend can generate one kernel.
#pragma once
#include <memory>
#include <vector>

#include "lazuli/primitives.h"

namespace lazuli {

// One step of a fused program: `primitive` (elementwise) applied to registers `args`.
// Registers 0 .. num_inputs-1 hold the inputs; step i writes register num_inputs + i.
struct FusedStep {
  std::shared_ptr<Primitive> primitive;
  std::vector<int> args;
  Dtype dtype;  // of the result
};

class Compiled : public Primitive {
 public:
  // `outputs` are registers; every output has the broadcast shape of the inputs, except
  // when the last step is a Reduce (then it is the only output, of the reduced shape).
  Compiled(Stream s, std::vector<Dtype> input_dtypes, std::vector<FusedStep> steps, std::vector<int> outputs);
  std::string name() const override { return "Compiled"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  void print(std::ostream& os) const override;
  LAZULI_TRANSFORMS(Compiled)
  void write(Writer& w) const override;

  // Whether `node` (its primitive, inputs and output dtypes) can be a step: elementwise,
  // and of dtypes the backends' fused kernels handle.
  static bool can_fuse(const array& node);
  // Whether `node` can end a fused program: a float sum over trailing axes, whose input the
  // steps before it compute tile by tile without storing it.
  static bool can_reduce(const array& node);
  // The same computation as separate nodes: what the transform rules differentiate.
  std::vector<array> expand(const std::vector<array>& inputs) const;

  const std::vector<Dtype>& input_dtypes() const { return input_dtypes_; }
  const std::vector<FusedStep>& steps() const { return steps_; }
  const std::vector<int>& output_registers() const { return outputs_; }

 private:
  void eval_reduction(const std::vector<array>& inputs, std::vector<array>& outputs);
  std::vector<Dtype> input_dtypes_;
  std::vector<FusedStep> steps_;
  std::vector<int> outputs_;
};

}  // namespace lazuli
