// The primitives: the small set of graph-node kinds that every op is built from. Each class
// owns its meaning (output shapes, parameters, equivalence); backends only run it.
#pragma once
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/serialize.h"   // Writer, for write()
#include "lazuli/transforms.h"  // Fn and the rule types of CustomTransforms

namespace lazuli {

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  const Stream& stream() const { return stream_; }
  const Device& device() const { return stream_.device; }

  virtual std::string name() const = 0;
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  // The CUDA backend overrides this where it has a kernel.
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs);
  // Output shapes from input shapes: what ops use to size a new node.
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs) const = 0;
  // Same kind and parameters: compile merges equivalent nodes on equal inputs.
  virtual bool is_equivalent(const Primitive& other) const { return false; }
  virtual void print(std::ostream& os) const;
  // Export (lazuli/export.h): the class's registered name (LAZULI_TRANSFORMS sets it), and
  // its parameters, which the reader registered under that name reads back
  // (LAZULI_PRIMITIVE_READER in the class's .cpp). Parameterless classes write nothing.
  virtual const char* class_name() const { return nullptr; }
  virtual void write(Writer&) const {}

  // Transform rules, written with ops so that they can be transformed again.
  // Reverse mode: cotangents of the inputs in argnums, given one cotangent per output.
  virtual std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>& outputs);
  // Forward mode: one tangent per output, given tangents of the inputs in argnums.
  virtual std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);
  // Batching: inputs carry a batch axis at axes[i] (-1: none); returns the outputs and
  // their batch axes.
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes);

 private:
  Stream stream_;
};

// A primitive whose single output has the shape of its (broadcast) first input.
class ElementwisePrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
};

// The elementwise ops. X(Name, op_name): each has a scalar functor lazuli::math::Name in
// backend/common/math.h, shared by every backend.
#define LAZULI_UNARY_OPS(X)                                                                    \
  X(Abs, abs) X(Negative, negative) X(Sign, sign) X(Sqrt, sqrt) X(Rsqrt, rsqrt)               \
  X(Square, square) X(Reciprocal, reciprocal) X(Exp, exp) X(Expm1, expm1) X(Log, log)         \
  X(Log1p, log1p) X(Log2, log2) X(Log10, log10) X(Sin, sin) X(Cos, cos) X(Tan, tan)           \
  X(ArcSin, arcsin) X(ArcCos, arccos) X(ArcTan, arctan) X(Sinh, sinh) X(Cosh, cosh)           \
  X(Tanh, tanh) X(ArcSinh, arcsinh) X(ArcCosh, arccosh) X(ArcTanh, arctanh)                   \
  X(Sigmoid, sigmoid) X(Erf, erf) X(ErfInv, erfinv) X(Floor, floor) X(Ceil, ceil)             \
  X(Round, round) X(LogicalNot, logical_not) X(BitwiseInvert, bitwise_invert)                 \
  X(IsNan, isnan) X(IsInf, isinf) X(IsPosInf, isposinf) X(IsNegInf, isneginf)                 \
  X(Conjugate, conjugate) X(Real, real) X(Imag, imag)

#define LAZULI_BINARY_OPS(X)                                                                   \
  X(Add, add) X(Subtract, subtract) X(Multiply, multiply) X(Divide, divide)                   \
  X(FloorDivide, floor_divide) X(Remainder, remainder) X(Power, power) X(Maximum, maximum)     \
  X(Minimum, minimum) X(ArcTan2, arctan2) X(LogAddExp, logaddexp) X(Equal, equal)             \
  X(NotEqual, not_equal) X(Less, less) X(LessEqual, less_equal) X(Greater, greater)           \
  X(GreaterEqual, greater_equal) X(LogicalAnd, logical_and) X(LogicalOr, logical_or)          \
  X(LogicalXor, logical_xor) X(BitwiseAnd, bitwise_and) X(BitwiseOr, bitwise_or)              \
  X(BitwiseXor, bitwise_xor) X(LeftShift, left_shift) X(RightShift, right_shift)

namespace detail {
bool register_primitive(const char* name);
}  // namespace detail

// Declares a primitive's three transform rules and enters the class in the registry that
// the transform-coverage test walks.
#define LAZULI_TRANSFORMS(Name)                                                                  \
 private:                                                                                        \
  static inline const bool registered_ = detail::register_primitive(#Name);                     \
                                                                                                 \
 public:                                                                                         \
  const char* class_name() const override { return #Name; }                                      \
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents, \
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override; \
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,   \
                         const std::vector<int>& argnums) override;                                \
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,          \
                                                       const std::vector<int>& axes) override;

#define LAZULI_ENUM_ENTRY(Name, op) Name,
enum class UnaryOp { LAZULI_UNARY_OPS(LAZULI_ENUM_ENTRY) };
enum class BinaryOp { LAZULI_BINARY_OPS(LAZULI_ENUM_ENTRY) };
#undef LAZULI_ENUM_ENTRY
const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);

class Unary : public ElementwisePrimitive {
 public:
  Unary(Stream s, UnaryOp op) : ElementwisePrimitive(s), op_(op) {}
  UnaryOp op() const { return op_; }
  std::string name() const override { return op_name(op_); }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Unary)
  void write(Writer& w) const override { w.enumeration(op_); }

 private:
  UnaryOp op_;
};

class Binary : public ElementwisePrimitive {
 public:
  Binary(Stream s, BinaryOp op) : ElementwisePrimitive(s), op_(op) {}
  BinaryOp op() const { return op_; }
  std::string name() const override { return op_name(op_); }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Binary)
  void write(Writer& w) const override { w.enumeration(op_); }

 private:
  BinaryOp op_;
};

// (floor_divide(a, b), remainder(a, b)) in one pass: two outputs from one node.
class DivMod : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "DivMod"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(DivMod)
};

// where(condition, x, y)
class Select : public ElementwisePrimitive {
 public:
  using ElementwisePrimitive::ElementwisePrimitive;
  std::string name() const override { return "Select"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Select)
};

// Value conversion to the output's dtype.
class AsType : public ElementwisePrimitive {
 public:
  AsType(Stream s, Dtype dtype) : ElementwisePrimitive(s), dtype_(dtype) {}
  std::string name() const override { return "AsType"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(AsType)
  void write(Writer& w) const override { w.dtype(dtype_); }

 private:
  Dtype dtype_;
};

// A row-major copy of the input (contiguous, copy).
class Copy : public ElementwisePrimitive {
 public:
  using ElementwisePrimitive::ElementwisePrimitive;
  std::string name() const override { return "Copy"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Copy)
};

// Reinterprets the bytes of the last axis as another dtype.
class View : public Primitive {
 public:
  View(Stream s, Dtype dtype) : Primitive(s), dtype_(dtype) {}
  std::string name() const override { return "View"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(View)
  void write(Writer& w) const override { w.dtype(dtype_); }

 private:
  Dtype dtype_;
};

class Broadcast : public Primitive {
 public:
  Broadcast(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  std::string name() const override { return "Broadcast"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Broadcast)
  void write(Writer& w) const override { w.ints(shape_); }

 private:
  Shape shape_;
};

class Reshape : public Primitive {
 public:
  Reshape(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  std::string name() const override { return "Reshape"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Reshape)
  void write(Writer& w) const override { w.ints(shape_); }
  // Strides that view `in` as `shape` without a copy, or empty when none exist.
  static Strides view_strides(const array& in, const Shape& shape);

 private:
  Shape shape_;
};

class Transpose : public Primitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : Primitive(s), axes_(std::move(axes)) {}
  std::string name() const override { return "Transpose"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Transpose)
  void write(Writer& w) const override { w.ints(axes_); }

 private:
  std::vector<int> axes_;
};

// Elements start, start + step, ... before stop on each axis (steps may be negative).
class Slice : public Primitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)) {}
  std::string name() const override { return "Slice"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Slice)
  void write(Writer& w) const override { w.ints(start_), w.ints(stop_), w.ints(strides_); }
  // Length of the slice start:stop:step of an axis (start and stop already normalised).
  static int32_t slice_length(int32_t start, int32_t stop, int32_t step);

 private:
  Shape start_, stop_, strides_;
};

// inputs: (src, update); the output is src with the slice replaced by update.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)) {}
  std::string name() const override { return "SliceUpdate"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(SliceUpdate)
  void write(Writer& w) const override { w.ints(start_), w.ints(stop_), w.ints(strides_); }

 private:
  Shape start_, stop_, strides_;
};

class AsStrided : public Primitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, int64_t offset)
      : Primitive(s), shape_(std::move(shape)), strides_(std::move(strides)), offset_(offset) {}
  std::string name() const override { return "AsStrided"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(AsStrided)
  void write(Writer& w) const override { w.ints(shape_), w.ints64(strides_), w.i64(offset_); }

 private:
  Shape shape_;
  Strides strides_;
  int64_t offset_;
};

class Concatenate : public Primitive {
 public:
  Concatenate(Stream s, int axis) : Primitive(s), axis_(axis) {}
  std::string name() const override { return "Concatenate"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Concatenate)
  void write(Writer& w) const override { w.i32(axis_); }

 private:
  int axis_;
};

class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double stop, double step)
      : Primitive(s), start_(start), stop_(stop), step_(step) {}
  std::string name() const override { return "Arange"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Arange)
  void write(Writer& w) const override { w.f64(start_), w.f64(stop_), w.f64(step_); }
  static int32_t length(double start, double stop, double step);

 private:
  double start_, stop_, step_;
};

enum class ReduceOp { Sum, Prod, Max, Min, And, Or };

// Reduces over `axes`, keeping them with size 1 (ops squeeze them away when asked).
class Reduce : public Primitive {
 public:
  Reduce(Stream s, ReduceOp op, std::vector<int> axes) : Primitive(s), op_(op), axes_(std::move(axes)) {}
  std::string name() const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Reduce)
  void write(Writer& w) const override { w.enumeration(op_), w.ints(axes_); }
  ReduceOp op() const { return op_; }

 private:
  ReduceOp op_;
  std::vector<int> axes_;
};

enum class ArgReduceOp { ArgMin, ArgMax };

// Index (uint32) of the first min or max along one axis, kept with size 1.
class ArgReduce : public Primitive {
 public:
  ArgReduce(Stream s, ArgReduceOp op, int axis) : Primitive(s), op_(op), axis_(axis) {}
  std::string name() const override { return op_ == ArgReduceOp::ArgMin ? "ArgMin" : "ArgMax"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(ArgReduce)
  void write(Writer& w) const override { w.enumeration(op_), w.i32(axis_); }

 private:
  ArgReduceOp op_;
  int axis_;
};

// (a, indices): a's elements at `indices` along `axis`, shaped
// a.shape[:axis] + indices.shape + a.shape[axis+1:]. Negative indices count from the end;
// an index out of range raises std::out_of_range when evaluated (never a stray read).
class Take : public Primitive {
 public:
  Take(Stream s, int axis) : Primitive(s), axis_(axis) {}
  std::string name() const override { return "Take"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Take)
  void write(Writer& w) const override { w.i32(axis_); }

 private:
  int axis_;
};

enum class ScatterOp { Set, Add, Prod, Max, Min };

// (a, indices, updates): a with `updates` (shaped like Take's output) combined in at
// `indices` along `axis`. Repeated indices combine in order; for Set the last one wins.
class Scatter : public Primitive {
 public:
  Scatter(Stream s, ScatterOp op, int axis) : Primitive(s), op_(op), axis_(axis) {}
  std::string name() const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Scatter)
  void write(Writer& w) const override { w.enumeration(op_), w.i32(axis_); }

 private:
  ScatterOp op_;
  int axis_;
};

enum class ScanOp { Sum, Prod, Max, Min, LogAddExp };

// Cumulative op along one axis (cumsum, cumprod, cummax, cummin, logcumsumexp); `reverse`
// scans from the end, and an exclusive scan (inclusive = false) shifts by one.
class Scan : public Primitive {
 public:
  Scan(Stream s, ScanOp op, int axis, bool reverse, bool inclusive)
      : Primitive(s), op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  std::string name() const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Scan)
  void write(Writer& w) const override { w.enumeration(op_), w.i32(axis_), w.boolean(reverse_), w.boolean(inclusive_); }

 private:
  ScanOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

// Sorting along one axis. Sort gives the values, ArgSort the (stable) permutation as
// uint32; Partition and ArgPartition place the kth element where sorting would and the
// smaller ones before it.
class Sort : public Primitive {
 public:
  Sort(Stream s, int axis) : Primitive(s), axis_(axis) {}
  std::string name() const override { return "Sort"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Sort)
  void write(Writer& w) const override { w.i32(axis_); }

 private:
  int axis_;
};

class ArgSort : public Primitive {
 public:
  ArgSort(Stream s, int axis) : Primitive(s), axis_(axis) {}
  std::string name() const override { return "ArgSort"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(ArgSort)
  void write(Writer& w) const override { w.i32(axis_); }

 private:
  int axis_;
};

class Partition : public Primitive {
 public:
  Partition(Stream s, int kth, int axis) : Primitive(s), kth_(kth), axis_(axis) {}
  std::string name() const override { return "Partition"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Partition)
  void write(Writer& w) const override { w.i32(kth_), w.i32(axis_); }

 private:
  int kth_, axis_;
};

class ArgPartition : public Primitive {
 public:
  ArgPartition(Stream s, int kth, int axis) : Primitive(s), kth_(kth), axis_(axis) {}
  std::string name() const override { return "ArgPartition"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(ArgPartition)
  void write(Writer& w) const override { w.i32(kth_), w.i32(axis_); }

 private:
  int kth_, axis_;
};

// (key) -> `shape` uint32 random bits from a counter-based generator (Threefry-2x32-20):
// the same key gives the same bits on any device and thread count.
class RandomBits : public Primitive {
 public:
  RandomBits(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  std::string name() const override { return "RandomBits"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(RandomBits)
  void write(Writer& w) const override { w.ints(shape_); }

 private:
  Shape shape_;
};

// Batched a @ b; batch axes are already broadcast by the op.
class Matmul : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "Matmul"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(Matmul)
};

// Identity whose derivative is zero (stop_gradient).
class StopGradient : public ElementwisePrimitive {
 public:
  using ElementwisePrimitive::ElementwisePrimitive;
  std::string name() const override { return "StopGradient"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(StopGradient)
};

// A function with user-supplied transform rules (custom_function, checkpoint). Its inputs
// are the function's arguments followed by its already-built outputs, which it passes on.
class CustomTransforms : public Primitive {
 public:
  CustomTransforms(Stream s, Fn fun, int num_args, std::optional<VjpRule> vjp, std::optional<JvpRule> jvp,
                   std::optional<VmapRule> vmap)
      : Primitive(s), fun_(std::move(fun)), num_args_(num_args), vjp_(std::move(vjp)), jvp_(std::move(jvp)),
        vmap_(std::move(vmap)) {}
  std::string name() const override { return "CustomTransforms"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  LAZULI_TRANSFORMS(CustomTransforms)
  // Export writes no CustomTransforms (its rules are C++ closures): it inlines the forward
  // graph, the inputs after the first num_args().
  int num_args() const { return num_args_; }

 private:
  Fn fun_;
  int num_args_;
  std::optional<VjpRule> vjp_;
  std::optional<JvpRule> jvp_;
  std::optional<VmapRule> vmap_;
};

// Names of every registered primitive, with the enum-parameterised ones (Unary, Binary,
// Reduce, ArgReduce) listed op by op: what the transform-coverage test walks.
std::vector<std::string> primitive_names();
// The registered primitive classes (LAZULI_TRANSFORMS names): what export's coverage test walks.
std::vector<std::string> primitive_classes();

}  // namespace lazuli
