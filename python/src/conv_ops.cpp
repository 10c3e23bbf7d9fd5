// Python bindings of convolution (conv1d/2d/3d, conv_transpose*, conv_general, convolve).
#include <nanobind/stl/string.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "convert.h"
#include "lazuli/conv.h"

using lz::array;
namespace py = lz::py;

using py::stream_of;

namespace {

bool is_sequence(nb::handle h) { return nb::isinstance<nb::list>(h) || nb::isinstance<nb::tuple>(h); }

[[noreturn]] void bad_arg(const char* op, const char* name, const std::string& expected, nb::handle got) {
  throw std::invalid_argument(std::string("[") + op + "] " + name + " must be " + expected + ", got " +
                              nb::repr(got).c_str() + ".");
}

// An int or a sequence of ints; `n` > 0 also fixes the length (an int is repeated n times).
std::vector<int> ints(nb::handle h, size_t n, const char* op, const char* name) {
  std::string expected = n ? "an int or a tuple of " + std::to_string(n) + " ints" : "an int or a list of ints";
  if (nb::isinstance<nb::int_>(h)) return std::vector<int>(n ? n : 1, nb::cast<int>(h));
  if (!is_sequence(h)) bad_arg(op, name, expected, h);
  std::vector<int> v;
  for (nb::handle e : h) {
    if (!nb::isinstance<nb::int_>(e)) bad_arg(op, name, expected, h);
    v.push_back(nb::cast<int>(e));
  }
  if (n && v.size() != n) bad_arg(op, name, expected, h);
  return v;
}

std::pair<int, int> pair_of(nb::handle h, const char* op, const char* name) {
  auto v = ints(h, 2, op, name);
  return {v[0], v[1]};
}
std::tuple<int, int, int> triple_of(nb::handle h, const char* op, const char* name) {
  auto v = ints(h, 3, op, name);
  return {v[0], v[1], v[2]};
}

}  // namespace

void init_conv_ops(nb::module_& m) {
  m.def(
      "conv1d",
      [](nb::handle input, nb::handle weight, int stride, int padding, int dilation, int groups, nb::handle s) {
        return lz::conv1d(py::to_array(input), py::to_array(weight), stride, padding, dilation, groups, stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, nb::kw_only(),
      "stream"_a = nb::none(),
      "1-D convolution (cross-correlation) of input (N, L, C_in) with weight (C_out, K, C_in / groups).");
  m.def(
      "conv2d",
      [](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding, nb::handle dilation, int groups,
         nb::handle s) {
        const char* op = "conv2d";
        return lz::conv2d(py::to_array(input), py::to_array(weight), pair_of(stride, op, "stride"),
                          pair_of(padding, op, "padding"), pair_of(dilation, op, "dilation"), groups, stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, nb::kw_only(),
      "stream"_a = nb::none(),
      "2-D convolution (cross-correlation) of input (N, H, W, C_in) with weight (C_out, KH, KW, C_in / groups).");
  m.def(
      "conv3d",
      [](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding, nb::handle dilation, int groups,
         nb::handle s) {
        const char* op = "conv3d";
        return lz::conv3d(py::to_array(input), py::to_array(weight), triple_of(stride, op, "stride"),
                          triple_of(padding, op, "padding"), triple_of(dilation, op, "dilation"), groups,
                          stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, nb::kw_only(),
      "stream"_a = nb::none(),
      "3-D convolution (cross-correlation) of input (N, D, H, W, C_in) with weight (C_out, KD, KH, KW, C_in / "
      "groups).");

  m.def(
      "conv_transpose1d",
      [](nb::handle input, nb::handle weight, int stride, int padding, int dilation, int output_padding, int groups,
         nb::handle s) {
        return lz::conv_transpose1d(py::to_array(input), py::to_array(weight), stride, padding, dilation,
                                    output_padding, groups, stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
      "groups"_a = 1, nb::kw_only(), "stream"_a = nb::none(),
      "1-D transposed convolution of input (N, L, C_in) with weight (C_out, K, C_in / groups).");
  m.def(
      "conv_transpose2d",
      [](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding, nb::handle dilation,
         nb::handle output_padding, int groups, nb::handle s) {
        const char* op = "conv_transpose2d";
        return lz::conv_transpose2d(py::to_array(input), py::to_array(weight), pair_of(stride, op, "stride"),
                                    pair_of(padding, op, "padding"), pair_of(dilation, op, "dilation"),
                                    pair_of(output_padding, op, "output_padding"), groups, stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
      "groups"_a = 1, nb::kw_only(), "stream"_a = nb::none(),
      "2-D transposed convolution of input (N, H, W, C_in) with weight (C_out, KH, KW, C_in / groups).");
  m.def(
      "conv_transpose3d",
      [](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding, nb::handle dilation,
         nb::handle output_padding, int groups, nb::handle s) {
        const char* op = "conv_transpose3d";
        return lz::conv_transpose3d(py::to_array(input), py::to_array(weight), triple_of(stride, op, "stride"),
                                    triple_of(padding, op, "padding"), triple_of(dilation, op, "dilation"),
                                    triple_of(output_padding, op, "output_padding"), groups, stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
      "groups"_a = 1, nb::kw_only(), "stream"_a = nb::none(),
      "3-D transposed convolution of input (N, D, H, W, C_in) with weight (C_out, KD, KH, KW, C_in / groups).");

  m.def(
      "conv_general",
      [](nb::handle input, nb::handle weight, nb::handle stride, nb::handle padding, nb::handle kernel_dilation,
         nb::handle input_dilation, int groups, bool flip, nb::handle s) {
        const char* op = "conv_general";
        std::vector<int> lo, hi;
        // padding: int, a list (symmetric), or a pair (lo list, hi list).
        if (is_sequence(padding) && nb::len(padding) == 2 && is_sequence(padding[0]) && is_sequence(padding[1])) {
          lo = ints(padding[0], 0, op, "padding");
          hi = ints(padding[1], 0, op, "padding");
        } else {
          lo = hi = ints(padding, 0, op, "padding");
        }
        return lz::conv_general(py::to_array(input), py::to_array(weight), ints(stride, 0, op, "stride"), lo, hi,
                                ints(kernel_dilation, 0, op, "kernel_dilation"),
                                ints(input_dilation, 0, op, "input_dilation"), groups, flip, stream_of(s));
      },
      "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "kernel_dilation"_a = 1, "input_dilation"_a = 1,
      "groups"_a = 1, "flip"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "General convolution of input (N, *spatial, C_in) with weight (C_out, *kernel, C_in / groups): strides, "
      "padding (int, list, or (low list, high list)), kernel and input dilation, groups, and flip (True: "
      "convolution, False: cross-correlation).");

  m.def(
      "convolve",
      [](nb::handle a, nb::handle v, const std::string& mode, nb::handle s) {
        return lz::convolve(py::to_array(a), py::to_array(v), mode, stream_of(s));
      },
      "a"_a, "v"_a, "mode"_a = "full", nb::kw_only(), "stream"_a = nb::none(),
      "The discrete convolution of two 1-D arrays (np.convolve): mode 'full', 'same' or 'valid'. The longer "
      "array is the signal.");
}
