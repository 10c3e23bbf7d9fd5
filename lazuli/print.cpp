#include "lazuli/print.h"

#include <cmath>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <sstream>

#include "lazuli/backend/common/cast.h"
#include "lazuli/device_memory.h"

namespace lazuli {
namespace {

std::mutex options_mutex;
PrintOptions options;

template <typename T>
std::string format_value(T v, int precision) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (is_complex_type<T>::value) {
    std::string re = format_value(v.real(), precision), im = format_value(std::fabs(v.imag()), precision);
    return re + (v.imag() < 0 || std::signbit(v.imag()) ? "-" : "+") + im + "j";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else {
    double d = static_cast<double>(v);
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    return buf;
  }
}

struct Printer {
  array& a;
  int precision, edge;
  bool summarise;
  std::ostream& os;

  template <typename T>
  void print_axis(const T* base, size_t dim, int64_t offset, int indent) {
    if (dim == a.ndim()) {
      os << format_value(base[offset], precision);
      return;
    }
    int64_t n = a.shape()[dim];
    auto separator = [&] {
      if (dim + 1 < a.ndim()) os << "," << std::string(a.ndim() - dim - 1, '\n') << std::string(indent + 1, ' ');
      else os << ", ";
    };
    os << "[";
    for (int64_t i = 0; i < n; ++i) {
      if (summarise && n > 2 * edge && i == edge) {
        os << "...";
        i = n - edge - 1;
        if (i + 1 < n) separator();  // the same separator as between elements
        continue;
      }
      print_axis(base, dim + 1, offset + i * a.strides()[dim], indent + 1);
      if (i + 1 < n) separator();
    }
    os << "]";
  }
};

}  // namespace

PrintOptions get_printoptions() {
  std::lock_guard<std::mutex> l(options_mutex);
  return options;
}
void set_printoptions(const PrintOptions& o) {
  if (o.precision < 0 || o.threshold < 0 || o.edgeitems < 0)
    throw std::invalid_argument("[set_printoptions] precision, threshold and edgeitems must be non-negative.");
  std::lock_guard<std::mutex> l(options_mutex);
  options = o;
}

std::ostream& operator<<(std::ostream& os, array a) {
  a.eval();
  a = host_readable(a);  // device-only memory is copied to the host first
  PrintOptions o = get_printoptions();
  os << "array(";
  dispatch_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    Printer p{a, o.precision, o.edgeitems, a.size() > static_cast<size_t>(o.threshold), os};
    if (a.size() == 0 && a.ndim() > 0) {
      os << "[]";
      if (a.ndim() > 1 || a.shape()[0] != 0) os << ", shape=(" << [&] {
        std::string s;
        for (size_t i = 0; i < a.ndim(); ++i) s += std::to_string(a.shape()[i]) + (i + 1 < a.ndim() || a.ndim() == 1 ? "," : "");
        return s;
      }() << ")";
    } else {
      p.print_axis(static_cast<const T*>(a.raw_data()), 0, 0, 6);
    }
  });
  os << ", dtype=" << dtype_name(a.dtype()) << ")";
  return os;
}

std::string to_string(array a) {
  std::ostringstream os;
  os << a;
  return os.str();
}

}  // namespace lazuli
