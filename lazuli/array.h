// The array: a handle to a node of the lazy graph. Before evaluation it holds the primitive
// that makes it and that primitive's inputs; after evaluation it holds a buffer, and the
// graph behind it is released.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <vector>

#include "lazuli/device.h"
#include "lazuli/dtype.h"
#include "lazuli/memory.h"

namespace lazuli {

using Shape = std::vector<int32_t>;
using Strides = std::vector<int64_t>;

class Primitive;
class Event;

class array {
 public:
  // A 0-d array from a scalar, cast to `dtype`.
  template <typename T>
  explicit array(T val, Dtype dtype = dtype_of<T>);
  // A 1-d array from a list.
  template <typename T>
  array(std::initializer_list<T> data);
  template <typename T>
  array(std::initializer_list<T> data, Dtype dtype);
  // Elements from an iterator range, laid out row-major in `shape`.
  template <typename It>
  array(It data, Shape shape, Dtype dtype = dtype_of<typename std::iterator_traits<It>::value_type>);
  template <typename T>
  array(std::initializer_list<T> data, Shape shape, Dtype dtype = dtype_of<T>);
  // Wraps external row-major memory without copying; `deleter` runs when the last array
  // using it is gone.
  array(void* data, Shape shape, Dtype dtype, std::function<void(void*)> deleter);
  // A graph node (used by ops).
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  // The outputs of a multi-output primitive; they know each other as siblings.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);

  array(const array&) = default;
  array(array&&) = default;
  array& operator=(const array&) & = default;
  array& operator=(array&&) & = default;
  ~array() {
    if (desc_ && !desc_->siblings.empty()) release_siblings();
  }

  // Metadata.
  const Shape& shape() const { return desc_->shape; }
  int32_t shape(int dim) const;  // negative dims count from the end
  const Strides& strides() const { return desc_->strides; }
  int64_t strides(int dim) const;
  size_t ndim() const { return desc_->shape.size(); }
  size_t size() const { return desc_->size; }
  Dtype dtype() const { return desc_->dtype; }
  size_t itemsize() const { return desc_->dtype.size; }
  size_t nbytes() const { return size() * itemsize(); }

  struct Flags {
    bool contiguous : 1;      // the elements fill data_size() slots with no gaps or repeats
    bool row_contiguous : 1;  // and are laid out row-major
    bool col_contiguous : 1;  // or column-major
  };
  Flags flags() const { return desc_->flags; }
  size_t data_size() const { return desc_->data_size; }  // elements spanned in the buffer
  int64_t offset() const { return desc_->offset; }       // of the first element, in elements

  // Evaluation. data() and item() evaluate first when needed.
  void eval();
  template <typename T> T item();
  template <typename T> T* data();
  template <typename T> const T* data() const;
  void* raw_data();  // buffer start plus offset, without evaluating

  // Graph.
  enum class Status { unscheduled, scheduled, available };
  Status status() const { return desc_->status.load(std::memory_order_acquire); }
  bool is_available() const { return status() == Status::available; }
  bool has_primitive() const { return desc_->primitive != nullptr; }
  Primitive& primitive() const { return *desc_->primitive; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return desc_->primitive; }
  const std::vector<array>& inputs() const { return desc_->inputs; }
  std::vector<array>& inputs() { return desc_->inputs; }
  const std::vector<array>& siblings() const { return desc_->siblings; }
  std::vector<array> outputs() const;  // this array and its siblings in output order
  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }
  // Traced arrays (made from a transform's inputs while it traces) keep their graph
  // through evaluation, because the transform's rules read it afterwards.
  bool is_tracer() const;
  bool traced() const { return desc_->tracer; }  // marked, whether or not a trace is running
  void set_tracer(bool tracer) { desc_->tracer = tracer; }

  // For the scheduler and backends.
  void set_status(Status s) const { desc_->status.store(s, std::memory_order_release); }
  const std::shared_ptr<Event>& event() const { return desc_->event; }
  void set_event(std::shared_ptr<Event> e) const { desc_->event = std::move(e); }
  void detach();  // drop primitive, inputs and siblings once the value is known
  // Gives this array a fresh row-major buffer.
  void set_data(allocator::Buffer buffer);
  void set_data(allocator::Buffer buffer, size_t data_size, Strides strides, Flags flags);
  // Shares `other`'s buffer with a new layout (views: reshape, transpose, slice, ...).
  void copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                          size_t data_size, int64_t offset = 0);
  void copy_shared_buffer(const array& other);
  // Takes over `other`'s buffer outright (donation).
  void move_shared_buffer(array other);
  // True when no one else reads this array or its buffer, so an output may reuse it.
  bool is_donatable() const;
  bool has_data() const { return desc_->data != nullptr; }
  const allocator::Buffer& buffer() const;

 private:
  struct Data {
    allocator::Buffer buffer;
    std::function<void(void*)> deleter;  // empty: the buffer goes back to the allocator
    explicit Data(allocator::Buffer b, std::function<void(void*)> d = {}) : buffer(b), deleter(std::move(d)) {}
    ~Data();
  };
  struct Desc {
    Shape shape;
    Strides strides;
    size_t size;
    Dtype dtype;
    std::shared_ptr<Primitive> primitive;
    std::vector<array> inputs;
    std::vector<array> siblings;
    uint32_t position = 0;  // index among its siblings
    bool tracer = false;
    std::atomic<Status> status{Status::unscheduled};
    std::shared_ptr<Event> event;
    std::shared_ptr<Data> data;
    size_t data_size = 0;
    int64_t offset = 0;
    Flags flags{true, true, true};
    Desc(Shape shape, Dtype dtype);
    ~Desc();
  };
  explicit array(std::shared_ptr<Desc> d) : desc_(std::move(d)) {}
  void init_from(const void* src, Dtype src_dtype);  // copies and casts row-major data
  void release_siblings();  // breaks the sibling cycle of an unevaluated group nobody holds
  template <typename T> T item_as();
  std::shared_ptr<Desc> desc_;
};

// Row-major strides of a shape, in elements.
Strides row_major_strides(const Shape& shape);
size_t shape_size(const Shape& shape, const char* op = "array");

// ---- template definitions --------------------------------------------------------------

template <typename T>
array::array(T val, Dtype dtype) : desc_(std::make_shared<Desc>(Shape{}, dtype)) {
  init_from(&val, dtype_of<T>);
}

template <typename T>
array::array(std::initializer_list<T> data) : array(data, dtype_of<T>) {}

template <typename T>
array::array(std::initializer_list<T> data, Dtype dtype)
    : desc_(std::make_shared<Desc>(Shape{static_cast<int32_t>(data.size())}, dtype)) {
  init_from(data.begin(), dtype_of<T>);  // contiguous, unlike std::vector<bool>
}

template <typename T>
array::array(std::initializer_list<T> data, Shape shape, Dtype dtype)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  if (data.size() != size())
    throw std::invalid_argument("[array] " + std::to_string(data.size()) +
                                " values cannot fill an array of " + std::to_string(size()) + " elements.");
  init_from(data.begin(), dtype_of<T>);
}

template <typename It>
array::array(It it, Shape shape, Dtype dtype) : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  using T = typename std::iterator_traits<It>::value_type;
  auto v = std::make_unique<T[]>(size());  // not std::vector: vector<bool> has no data()
  std::copy_n(it, size(), v.get());
  init_from(v.get(), dtype_of<T>);
}

template <typename T>
T* array::data() {
  if (!is_available()) eval();
  return static_cast<T*>(raw_data());
}
template <typename T>
const T* array::data() const {
  return const_cast<array*>(this)->data<T>();
}

template <typename T>
T array::item() {
  if (size() != 1)
    throw std::invalid_argument("[item] item() needs an array of one element, got " +
                                std::to_string(size()) + " elements.");
  if (!is_available()) eval();
  return item_as<T>();
}

}  // namespace lazuli
