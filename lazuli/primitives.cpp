#include "lazuli/primitives.h"

#include <cmath>
#include <ostream>

#include "lazuli/ops.h"
#include "lazuli/ops/ops_util.h"
#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/device.h"
#endif

namespace lazuli {

void Primitive::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
#ifdef LAZULI_CUDA
  if (cuda::eval_gpu(*this, inputs, outputs)) return;  // the backend's kernels, where it has one
#endif
  throw std::runtime_error("[" + name() + "] This build of Lazuli has no GPU kernel for " + name() + ".");
}
void Primitive::print(std::ostream& os) const { os << name(); }

#define LAZULI_NAME_ENTRY(Name, op) #Name,
const char* op_name(UnaryOp op) {
  static const char* names[] = {LAZULI_UNARY_OPS(LAZULI_NAME_ENTRY)};
  return names[static_cast<int>(op)];
}
const char* op_name(BinaryOp op) {
  static const char* names[] = {LAZULI_BINARY_OPS(LAZULI_NAME_ENTRY)};
  return names[static_cast<int>(op)];
}
#undef LAZULI_NAME_ENTRY

namespace {
// Same primitive class with equal parameters.
template <typename P, typename F>
bool same(const P& self, const Primitive& other, F&& params_equal) {
  auto* o = dynamic_cast<const P*>(&other);
  return o && params_equal(*o);
}
}  // namespace

std::vector<Shape> ElementwisePrimitive::output_shapes(const std::vector<array>& inputs) const {
  Shape out = inputs[0].shape();
  for (size_t i = 1; i < inputs.size(); ++i) out = broadcast_shapes(out, inputs[i].shape());
  return {out};
}

bool Unary::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Unary& u) { return u.op_ == op_; });
}
bool Binary::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Binary& b) { return b.op_ == op_; });
}
bool Select::is_equivalent(const Primitive& o) const { return same(*this, o, [](auto&) { return true; }); }
bool DivMod::is_equivalent(const Primitive& o) const { return same(*this, o, [](auto&) { return true; }); }
std::vector<Shape> DivMod::output_shapes(const std::vector<array>& inputs) const {
  Shape s = broadcast_shapes(inputs[0].shape(), inputs[1].shape());
  return {s, s};
}
bool Copy::is_equivalent(const Primitive& o) const { return same(*this, o, [](auto&) { return true; }); }
bool Matmul::is_equivalent(const Primitive& o) const { return same(*this, o, [](auto&) { return true; }); }
bool AsType::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const AsType& p) { return p.dtype_ == dtype_; });
}
bool View::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const View& p) { return p.dtype_ == dtype_; });
}
bool Broadcast::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Broadcast& p) { return p.shape_ == shape_; });
}
bool Reshape::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Reshape& p) { return p.shape_ == shape_; });
}
bool Transpose::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Transpose& p) { return p.axes_ == axes_; });
}
bool Slice::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Slice& p) {
    return p.start_ == start_ && p.stop_ == stop_ && p.strides_ == strides_;
  });
}
bool SliceUpdate::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const SliceUpdate& p) {
    return p.start_ == start_ && p.stop_ == stop_ && p.strides_ == strides_;
  });
}
bool AsStrided::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const AsStrided& p) {
    return p.shape_ == shape_ && p.strides_ == strides_ && p.offset_ == offset_;
  });
}
bool Concatenate::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Concatenate& p) { return p.axis_ == axis_; });
}
bool Arange::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Arange& p) {
    return p.start_ == start_ && p.stop_ == stop_ && p.step_ == step_;
  });
}
bool Reduce::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Reduce& p) { return p.op_ == op_ && p.axes_ == axes_; });
}
bool ArgReduce::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const ArgReduce& p) { return p.op_ == op_ && p.axis_ == axis_; });
}

bool Take::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Take& p) { return p.axis_ == axis_; });
}
bool Scatter::is_equivalent(const Primitive& o) const {
  return same(*this, o, [&](const Scatter& p) { return p.op_ == op_ && p.axis_ == axis_; });
}
std::string Scatter::name() const {
  switch (op_) {
    case ScatterOp::Set: return "Scatter";
    case ScatterOp::Add: return "ScatterAdd";
    case ScatterOp::Prod: return "ScatterProd";
    case ScatterOp::Max: return "ScatterMax";
    case ScatterOp::Min: return "ScatterMin";
  }
  return "Scatter";
}
std::vector<Shape> Take::output_shapes(const std::vector<array>& inputs) const {
  const Shape& a = inputs[0].shape();
  Shape s(a.begin(), a.begin() + axis_);
  s.insert(s.end(), inputs[1].shape().begin(), inputs[1].shape().end());
  s.insert(s.end(), a.begin() + axis_ + 1, a.end());
  return {s};
}
std::vector<Shape> Scatter::output_shapes(const std::vector<array>& inputs) const { return {inputs[0].shape()}; }

std::string Reduce::name() const {
  switch (op_) {
    case ReduceOp::Sum: return "Sum";
    case ReduceOp::Prod: return "Prod";
    case ReduceOp::Max: return "Max";
    case ReduceOp::Min: return "Min";
    case ReduceOp::And: return "All";
    case ReduceOp::Or: return "Any";
  }
  return "Reduce";
}

std::vector<Shape> View::output_shapes(const std::vector<array>& inputs) const {
  Shape s = inputs[0].shape();
  int in_size = inputs[0].itemsize(), out_size = dtype_.size;
  if (s.empty()) return {s};
  s.back() = s.back() * in_size / out_size;
  return {s};
}

std::vector<Shape> Broadcast::output_shapes(const std::vector<array>&) const { return {shape_}; }
std::vector<Shape> Reshape::output_shapes(const std::vector<array>&) const { return {shape_}; }

std::vector<Shape> Transpose::output_shapes(const std::vector<array>& inputs) const {
  Shape s;
  for (int ax : axes_) s.push_back(inputs[0].shape()[ax]);
  return {s};
}

int32_t Slice::slice_length(int32_t start, int32_t stop, int32_t step) {
  if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / (-step) : 0;
}

std::vector<Shape> Slice::output_shapes(const std::vector<array>& inputs) const {
  Shape s(inputs[0].ndim());
  for (size_t i = 0; i < s.size(); ++i) s[i] = slice_length(start_[i], stop_[i], strides_[i]);
  return {s};
}

std::vector<Shape> SliceUpdate::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}
std::vector<Shape> AsStrided::output_shapes(const std::vector<array>&) const { return {shape_}; }

std::vector<Shape> Concatenate::output_shapes(const std::vector<array>& inputs) const {
  Shape s = inputs[0].shape();
  s[axis_] = 0;
  for (auto& in : inputs) s[axis_] += in.shape()[axis_];
  return {s};
}

int32_t Arange::length(double start, double stop, double step) {
  double n = std::ceil((stop - start) / step);
  if (!(n > 0)) return 0;
  if (n > 2147483647.0)
    throw std::invalid_argument("[arange] The range " + std::to_string(start) + " to " +
                                std::to_string(stop) + " by " + std::to_string(step) +
                                " has more than 2^31 elements.");
  return static_cast<int32_t>(n);
}
std::vector<Shape> Arange::output_shapes(const std::vector<array>&) const {
  return {{length(start_, stop_, step_)}};
}

std::vector<Shape> Reduce::output_shapes(const std::vector<array>& inputs) const {
  Shape s = inputs[0].shape();
  for (int ax : axes_) s[ax] = 1;
  return {s};
}
std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& inputs) const {
  Shape s = inputs[0].shape();
  s[axis_] = 1;
  return {s};
}

std::vector<Shape> Matmul::output_shapes(const std::vector<array>& inputs) const {
  Shape s = inputs[0].shape();
  s.back() = inputs[1].shape().back();
  return {s};
}

}  // namespace lazuli

// ---- export readers: each rebuilds its class from what write() wrote, checking the
// parameters against the node's input shapes so a hostile file cannot reach a kernel with
// out-of-range axes or windows. ---------------------------------------------------------

namespace lazuli {
namespace {
#define LAZULI_COUNT(Name, op) +1
constexpr int num_unary_ops = 0 LAZULI_UNARY_OPS(LAZULI_COUNT);
constexpr int num_binary_ops = 0 LAZULI_BINARY_OPS(LAZULI_COUNT);
#undef LAZULI_COUNT

// Start/stop/step per axis whose every index lands inside `in`; the update (SliceUpdate)
// must have the slice's shape.
void check_slice(Reader& r, const Shape& start, const Shape& stop, const Shape& steps) {
  const Shape& in = r.input_shape(0);
  if (start.size() != in.size() || stop.size() != in.size() || steps.size() != in.size())
    r.fail("a slice's bounds do not match the input's rank");
  for (size_t i = 0; i < in.size(); ++i) {
    if (steps[i] == 0) r.fail("a slice has step 0");
    int64_t n = Slice::slice_length(start[i], stop[i], steps[i]);
    int64_t last = int64_t(start[i]) + (n - 1) * steps[i];
    if (n > 0 && (start[i] < 0 || start[i] >= in[i] || last < 0 || last >= in[i]))
      r.fail("a slice reaches outside axis " + std::to_string(i) + " of size " + std::to_string(in[i]));
  }
}
}  // namespace

LAZULI_PRIMITIVE_READER(Unary) {
  r.arity(1);
  auto op = r.enumeration<UnaryOp>(num_unary_ops);
  Dtype in = r.in_dtype(0), out = in;
  if (op == UnaryOp::IsNan || op == UnaryOp::IsInf || op == UnaryOp::IsPosInf || op == UnaryOp::IsNegInf ||
      op == UnaryOp::LogicalNot)
    out = bool_;
  else if ((op == UnaryOp::Real || op == UnaryOp::Imag || op == UnaryOp::Abs) && in == complex64)
    out = float32;
  r.expect_output(0, out);
  return std::make_shared<Unary>(s, op);
}
LAZULI_PRIMITIVE_READER(Binary) {
  r.arity(2);
  auto op = r.enumeration<BinaryOp>(num_binary_ops);
  r.same_input_dtypes();
  bool predicate = op == BinaryOp::Equal || op == BinaryOp::NotEqual || op == BinaryOp::Less ||
                   op == BinaryOp::LessEqual || op == BinaryOp::Greater || op == BinaryOp::GreaterEqual ||
                   op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr || op == BinaryOp::LogicalXor;
  r.expect_output(0, predicate ? bool_ : r.in_dtype(0));
  return std::make_shared<Binary>(s, op);
}
LAZULI_PRIMITIVE_READER(DivMod) {
  r.arity(2);
  r.same_input_dtypes();
  r.outputs_like(0);
  return std::make_shared<DivMod>(s);
}
LAZULI_PRIMITIVE_READER(Select) {
  r.arity(3);
  r.expect_input(0, bool_);
  r.same_input_dtypes(1);
  r.outputs_like(1);
  return std::make_shared<Select>(s);
}
LAZULI_PRIMITIVE_READER(AsType) {
  r.arity(1);
  Dtype t = r.dtype();
  r.expect_output(0, t);
  return std::make_shared<AsType>(s, t);
}
LAZULI_PRIMITIVE_READER(Copy) {
  r.arity(1);
  r.outputs_like(0);
  return std::make_shared<Copy>(s);
}
LAZULI_PRIMITIVE_READER(View) {
  r.arity(1);
  Dtype t = r.dtype();
  r.expect_output(0, t);
  const Shape& in = r.input_shape(0);
  int a = r.in_dtype(0).size, b = t.size;
  if (in.empty() ? a != b : (int64_t(in.back()) * a) % b != 0) r.fail("View of " + detail::shape_str(in) + " as " + dtype_name(t));
  return std::make_shared<View>(s, t);
}
LAZULI_PRIMITIVE_READER(Broadcast) {
  r.arity(1);
  r.outputs_like(0);
  Shape shape = r.shape();
  const Shape& in = r.input_shape(0);
  if (in.size() > shape.size()) r.fail("Broadcast to fewer dimensions than its input");
  for (size_t i = 0; i < in.size(); ++i) {
    int32_t d = in[in.size() - 1 - i], o = shape[shape.size() - 1 - i];
    if (d != o && d != 1) r.fail("Broadcast of " + detail::shape_str(in) + " to " + detail::shape_str(shape));
  }
  return std::make_shared<Broadcast>(s, std::move(shape));
}
LAZULI_PRIMITIVE_READER(Reshape) {
  r.arity(1);
  r.outputs_like(0);
  Shape shape = r.shape();
  int64_t a = 1, b = 1;
  for (auto d : r.input_shape(0)) a *= d;
  for (auto d : shape) b *= d;
  if (a != b) r.fail("Reshape of " + detail::shape_str(r.input_shape(0)) + " to " + detail::shape_str(shape));
  return std::make_shared<Reshape>(s, std::move(shape));
}
LAZULI_PRIMITIVE_READER(Transpose) {
  r.arity(1);
  r.outputs_like(0);
  auto axes = r.axes(r.rank());
  auto sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != int(i)) r.fail("Transpose axes are not a permutation");
  if (int(axes.size()) != r.rank()) r.fail("Transpose axes do not match the input's rank");
  return std::make_shared<Transpose>(s, std::move(axes));
}
LAZULI_PRIMITIVE_READER(Slice) {
  r.arity(1);
  r.outputs_like(0);
  Shape start = r.ints(), stop = r.ints(), steps = r.ints();
  check_slice(r, start, stop, steps);
  return std::make_shared<Slice>(s, std::move(start), std::move(stop), std::move(steps));
}
LAZULI_PRIMITIVE_READER(SliceUpdate) {
  r.arity(2);
  r.same_input_dtypes();
  r.outputs_like(0);
  Shape start = r.ints(), stop = r.ints(), steps = r.ints();
  check_slice(r, start, stop, steps);
  Shape want(start.size());
  for (size_t i = 0; i < want.size(); ++i) want[i] = Slice::slice_length(start[i], stop[i], steps[i]);
  if (r.input_shape(1) != want) r.fail("SliceUpdate's update does not have the slice's shape");
  return std::make_shared<SliceUpdate>(s, std::move(start), std::move(stop), std::move(steps));
}
LAZULI_PRIMITIVE_READER(AsStrided) {
  r.arity(1);
  r.outputs_like(0);
  Shape shape = r.shape();
  Strides strides = r.ints64();
  int64_t offset = r.i64();
  if (strides.size() != shape.size()) r.fail("AsStrided's strides do not match its shape");
  // Every element it can reach must lie inside the input.
  int64_t size = 1, lo = offset, hi = offset;
  for (auto d : r.input_shape(0)) size *= d;
  bool empty = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) empty = true;
    if (std::abs(strides[i]) > (int64_t(1) << 40)) r.fail("AsStrided has an absurd stride");
    int64_t reach = int64_t(shape[i] > 0 ? shape[i] - 1 : 0) * strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  if (!empty && (lo < 0 || hi >= size)) r.fail("AsStrided reaches outside its input");
  return std::make_shared<AsStrided>(s, std::move(shape), std::move(strides), offset);
}
LAZULI_PRIMITIVE_READER(Concatenate) {
  r.arity(1, SIZE_MAX);
  r.same_input_dtypes();
  r.outputs_like(0);
  int axis = r.axis(r.rank());
  for (size_t i = 1; i < r.input_shapes.size(); ++i) {
    Shape a = r.input_shape(0), b = r.input_shape(i);
    if (a.size() != b.size()) r.fail("Concatenate's inputs differ in rank");
    a[axis] = b[axis] = 0;
    if (a != b) r.fail("Concatenate's inputs differ off the concatenation axis");
  }
  return std::make_shared<Concatenate>(s, axis);
}
LAZULI_PRIMITIVE_READER(Arange) {
  r.arity(0);
  double start = r.f64(), stop = r.f64(), step = r.f64();
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step) || step == 0)
    r.fail("Arange has a non-finite or zero parameter");
  return std::make_shared<Arange>(s, start, stop, step);
}
LAZULI_PRIMITIVE_READER(Reduce) {
  r.arity(1);
  auto op = r.enumeration<ReduceOp>(6);
  r.expect_output(0, op == ReduceOp::And || op == ReduceOp::Or ? bool_ : r.in_dtype(0));
  return std::make_shared<Reduce>(s, op, r.axes(r.rank()));
}
LAZULI_PRIMITIVE_READER(ArgReduce) {
  r.arity(1);
  auto op = r.enumeration<ArgReduceOp>(2);
  r.expect_output(0, uint32);
  return std::make_shared<ArgReduce>(s, op, r.axis(r.rank()));
}
LAZULI_PRIMITIVE_READER(Take) {
  r.arity(2);
  r.expect_integer_input(1);
  r.outputs_like(0);
  return std::make_shared<Take>(s, r.axis(r.rank()));
}
LAZULI_PRIMITIVE_READER(Scatter) {
  r.arity(3);
  r.expect_integer_input(1);
  r.expect_input(2, r.in_dtype(0));
  r.outputs_like(0);
  auto op = r.enumeration<ScatterOp>(5);
  int axis = r.axis(r.rank());
  const Shape &a = r.input_shape(0), &idx = r.input_shape(1);
  Shape want(a.begin(), a.begin() + axis);
  want.insert(want.end(), idx.begin(), idx.end());
  want.insert(want.end(), a.begin() + axis + 1, a.end());
  if (r.input_shape(2) != want) r.fail("Scatter's updates " + detail::shape_str(r.input_shape(2)) + " do not fit");
  return std::make_shared<Scatter>(s, op, axis);
}
LAZULI_PRIMITIVE_READER(Matmul) {
  r.arity(2);
  const Shape &a = r.input_shape(0), &b = r.input_shape(1);
  if (a.size() < 2 || a.size() != b.size() || a.back() != b[b.size() - 2] ||
      !std::equal(a.begin(), a.end() - 2, b.begin()))
    r.fail("Matmul of " + detail::shape_str(a) + " and " + detail::shape_str(b));
  r.same_input_dtypes();
  r.outputs_like(0);
  return std::make_shared<Matmul>(s);
}

}  // namespace lazuli
