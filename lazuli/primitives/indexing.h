// Primitives of the general gather/scatter family (lazuli/indexing.h) and depends.
#pragma once
#include "lazuli/primitives.h"

namespace lazuli {

// (a, idx_0, ..., idx_{k-1}): the windows of `slice_sizes` that start at
// (idx_0[i] on axes[0], ..., 0 elsewhere), shaped idx.shape + slice_sizes. The index arrays
// share one shape. An index outside [-dim, dim - window] raises std::out_of_range when
// evaluated; negative ones count from the end.
class Gather : public Primitive {
 public:
  Gather(Stream s, std::vector<int> axes, Shape slice_sizes)
      : Primitive(s), axes_(std::move(axes)), slice_sizes_(std::move(slice_sizes)) {}
  std::string name() const override { return "Gather"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Gather)
  void write(Writer& w) const override { w.ints(axes_), w.ints(slice_sizes_); }

 private:
  std::vector<int> axes_;
  Shape slice_sizes_;
};

// (a, idx_0, ..., idx_{k-1}, updates): a with each window updates[i] (updates shaped
// idx.shape + window, the window with a.ndim axes) combined in where Gather would read it.
// Windows apply in index order, so for Set the last of repeated indices wins.
class ScatterSlices : public Primitive {
 public:
  ScatterSlices(Stream s, ScatterOp op, std::vector<int> axes) : Primitive(s), op_(op), axes_(std::move(axes)) {}
  std::string name() const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(ScatterSlices)
  void write(Writer& w) const override { w.enumeration(op_), w.ints(axes_); }

 private:
  ScatterOp op_;
  std::vector<int> axes_;
};

// (inputs..., dependencies...): the first `num_inputs` arrays passed through unchanged
// (sharing their buffers), evaluated only after the dependencies.
class Depends : public Primitive {
 public:
  Depends(Stream s, int num_inputs) : Primitive(s), num_inputs_(num_inputs) {}
  std::string name() const override { return "Depends"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(Depends)
  void write(Writer& w) const override { w.i32(num_inputs_); }

 private:
  int num_inputs_;
};

}  // namespace lazuli
