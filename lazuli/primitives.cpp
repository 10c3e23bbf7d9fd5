#include "lazuli/primitives.h"

#include <cmath>
#include <ostream>

#include "lazuli/ops.h"

namespace lazuli {

void Primitive::eval_gpu(const std::vector<array>&, std::vector<array>&) {
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
