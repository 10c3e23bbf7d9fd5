#include "lazuli/array.h"

#include <cstring>
#include <string>

#include "lazuli/backend/common/cast.h"
#include "lazuli/device_memory.h"
#include "lazuli/ops.h"
#include "lazuli/primitives.h"
#include "lazuli/scheduler.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {

Strides row_major_strides(const Shape& shape) {
  Strides strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  return strides;
}

size_t shape_size(const Shape& shape, const char* op) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0)
      throw std::invalid_argument(std::string("[") + op + "] Negative dimension " + std::to_string(d) +
                                  " in shape.");
    n *= static_cast<size_t>(d);
  }
  return n;
}

// Row-major strides from the start (as MLX): a node's strides are valid before evaluation.
array::Desc::Desc(Shape s, Dtype t)
    : shape(std::move(s)), strides(row_major_strides(shape)), size(shape_size(shape)), dtype(t) {}

array::Desc::~Desc() {
  // Free long chains of inputs iteratively: a recursive destructor would overflow the
  // stack on deep graphs (a loop of a million ops that was never evaluated).
  if (inputs.empty()) return;
  std::vector<std::shared_ptr<Desc>> pending;
  for (auto& in : inputs)
    if (in.desc_.use_count() == 1) pending.push_back(std::move(in.desc_));
  inputs.clear();
  while (!pending.empty()) {
    auto d = std::move(pending.back());
    pending.pop_back();
    for (auto& in : d->inputs)
      if (in.desc_.use_count() == 1) pending.push_back(std::move(in.desc_));
    d->inputs.clear();
  }
}

array::Data::~Data() {
  if (deleter) deleter(buffer.ptr);
  else allocator::free(buffer);
}

void array::init_from(const void* src, Dtype src_dtype) {
  set_data(allocator::malloc(nbytes()));
  dispatch_dtype(dtype(), [&](auto out_t) {
    using Out = decltype(out_t);
    Out* out = static_cast<Out*>(desc_->data->buffer.ptr);
    dispatch_dtype(src_dtype, [&](auto in_t) {
      using In = decltype(in_t);
      const In* in = static_cast<const In*>(src);
      for (size_t i = 0; i < size(); ++i) out[i] = cast_value<Out>(in[i]);
    });
  });
  set_status(Status::available);
}

array::array(void* data, Shape shape, Dtype dtype, std::function<void(void*)> deleter)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  // An empty deleter would mean "allocator-owned" to Data: borrow the memory instead.
  if (!deleter) deleter = [](void*) {};
  desc_->data = std::make_shared<Data>(allocator::Buffer{data, nbytes()}, std::move(deleter));
  desc_->strides = row_major_strides(desc_->shape);
  desc_->data_size = size();
  set_status(Status::available);
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  desc_->primitive = std::move(primitive);
  desc_->inputs = std::move(inputs);
  for (auto& in : desc_->inputs) desc_->tracer |= in.desc_->tracer;
}

bool array::is_tracer() const { return desc_->tracer && detail::tracing_depth().load() > 0; }

std::vector<array> array::make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  std::vector<array> outs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outs.emplace_back(std::move(shapes[i]), dtypes[i], primitive, inputs);
    outs.back().desc_->position = static_cast<uint32_t>(i);
  }
  for (size_t i = 0; i < outs.size(); ++i)
    for (size_t j = 0; j < outs.size(); ++j)
      if (i != j) outs[i].desc_->siblings.push_back(outs[j]);
  return outs;
}

// The outputs of one primitive hold each other as siblings, a cycle that shared_ptr never
// frees. Evaluation breaks it (detach); for a group dropped unevaluated, break it when the
// handle going away is the last one held from outside the group, as MLX does.
void array::release_siblings() {
  long n = static_cast<long>(desc_->siblings.size());
  if (desc_.use_count() != n + 1) return;
  for (auto& s : desc_->siblings)
    if (s.desc_.use_count() != n) return;
  for (auto& s : desc_->siblings) {
    for (auto& ss : s.desc_->siblings) ss.desc_ = nullptr;
    s.desc_->siblings.clear();
  }
  desc_->siblings.clear();
}

std::vector<array> array::outputs() const {
  if (siblings().empty()) return {*this};
  std::vector<array> outs(siblings().size() + 1, *this);
  size_t k = 0;
  for (size_t i = 0; i < outs.size(); ++i)
    if (i != desc_->position) outs[i] = siblings()[k++];
  return outs;
}

static int normalize_dim(int dim, size_t ndim, const char* what) {
  int n = static_cast<int>(ndim);
  if (dim < -n || dim >= n)
    throw std::invalid_argument(std::string("[") + what + "] Dimension " + std::to_string(dim) +
                                " is out of range for an array of " + std::to_string(n) + " dimensions.");
  return dim < 0 ? dim + n : dim;
}

int32_t array::shape(int dim) const { return desc_->shape[normalize_dim(dim, ndim(), "shape")]; }
int64_t array::strides(int dim) const { return desc_->strides[normalize_dim(dim, ndim(), "strides")]; }

void array::eval() { lazuli::eval({*this}); }

void* array::raw_data() {
  if (!desc_->data) return nullptr;
  return static_cast<char*>(desc_->data->buffer.ptr) + desc_->offset * static_cast<int64_t>(itemsize());
}

const allocator::Buffer& array::buffer() const { return desc_->data->buffer; }

template <typename T>
T array::item_as() {
  array readable = host_readable(*this);  // device-only memory is copied to the host first
  const void* p = readable.raw_data();
  return dispatch_dtype(dtype(), [&](auto t) {
    using In = decltype(t);
    return cast_value<T>(*static_cast<const In*>(p));
  });
}
#define LAZULI_ITEM(T) template T array::item_as<T>();
LAZULI_ITEM(bool) LAZULI_ITEM(uint8_t) LAZULI_ITEM(uint16_t) LAZULI_ITEM(uint32_t)
LAZULI_ITEM(uint64_t) LAZULI_ITEM(int8_t) LAZULI_ITEM(int16_t) LAZULI_ITEM(int32_t)
LAZULI_ITEM(int64_t) LAZULI_ITEM(float16_t) LAZULI_ITEM(bfloat16_t) LAZULI_ITEM(float)
LAZULI_ITEM(double) LAZULI_ITEM(complex64_t)
#undef LAZULI_ITEM

void array::detach() {
  desc_->primitive = nullptr;
  desc_->inputs.clear();
  desc_->siblings.clear();
}

void array::set_data(allocator::Buffer buffer) {
  Flags f{true, true, true};
  if (ndim() > 1) {
    size_t non_unit = 0;
    for (auto d : shape()) non_unit += d > 1;
    f.col_contiguous = non_unit <= 1 || size() == 0;
  }
  set_data(buffer, size(), row_major_strides(shape()), f);
}

void array::set_data(allocator::Buffer buffer, size_t data_size, Strides strides, Flags flags) {
  desc_->data = std::make_shared<Data>(buffer);
  desc_->data_size = data_size;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->offset = 0;
}

void array::copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                               size_t data_size, int64_t offset) {
  desc_->data = other.desc_->data;
  desc_->strides = strides;
  desc_->flags = flags;
  desc_->data_size = data_size;
  desc_->offset = other.desc_->offset + offset;
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

void array::move_shared_buffer(array other) {
  desc_->data = std::move(other.desc_->data);
  desc_->strides = other.strides();
  desc_->flags = other.flags();
  desc_->data_size = other.data_size();
  desc_->offset = other.desc_->offset;
}

bool array::is_donatable() const {
  return !is_tracer() && desc_.use_count() == 1 && desc_->data && desc_->data.use_count() == 1 && !desc_->data->deleter;
}

}  // namespace lazuli
