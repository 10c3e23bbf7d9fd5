// Python bindings of quantization (quantize, dequantize, quantized_matmul, gather_qmm, qqmm, gather_qqmm,
// to_fp8, from_fp8).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>

#include "convert.h"
#include "lazuli/quantized.h"

using lz::array;
namespace py = lz::py;
using py::stream_of;

namespace {

std::optional<array> optional_array(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return py::to_array(h);
}

nb::tuple as_tuple(const std::vector<array>& v) {
  nb::list l;
  for (auto& a : v) l.append(nb::cast(a));
  return nb::steal<nb::tuple>(PyList_AsTuple(l.ptr()));
}

}  // namespace

void init_quantized_ops(nb::module_& m) {
  m.def(
      "quantize",
      [](nb::handle w, std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
         nb::handle global_scale, nb::handle s) {
        return as_tuple(lz::quantize(py::to_array(w), group_size, bits, mode, optional_array(global_scale),
                                     stream_of(s)));
      },
      "w"_a, "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "affine", nb::kw_only(),
      "global_scale"_a = nb::none(), "stream"_a = nb::none(),
      "Quantize w along its last axis in groups of group_size values of bits bits. Returns (w_q, scales, "
      "biases) for mode 'affine' (groups 32/64*/128, bits 2/3/4*/5/6/8) and (w_q, scales) for 'mxfp4' "
      "(group 32, e2m1), 'mxfp8' (group 32, e4m3) and 'nvfp4' (group 16, e2m1, e4m3 scales, optional "
      "global_scale). w_q packs the codes into uint32 words, lowest bits first.");

  m.def(
      "dequantize",
      [](nb::handle w, nb::handle scales, nb::handle biases, std::optional<int> group_size, std::optional<int> bits,
         const std::string& mode, std::optional<lz::Dtype> dtype, nb::handle global_scale, nb::handle s) {
        return lz::dequantize(py::to_array(w), py::to_array(scales), optional_array(biases), group_size, bits, mode,
                              optional_array(global_scale), dtype, stream_of(s));
      },
      "w"_a, "scales"_a, "biases"_a = nb::none(), "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "affine", "dtype"_a = nb::none(), nb::kw_only(), "global_scale"_a = nb::none(),
      "stream"_a = nb::none(),
      "The matrix that quantize() packed into w, scales (and biases). dtype defaults to the scales' dtype "
      "for 'affine' and bfloat16 for the floating-point modes.");

  m.def(
      "quantized_matmul",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle biases, bool transpose,
         std::optional<int> group_size, std::optional<int> bits, const std::string& mode, nb::handle s) {
        return lz::quantized_matmul(py::to_array(x), py::to_array(w), py::to_array(scales), optional_array(biases),
                                    transpose, group_size, bits, mode, stream_of(s));
      },
      "x"_a, "w"_a, "scales"_a, "biases"_a = nb::none(), "transpose"_a = true, "group_size"_a = nb::none(),
      "bits"_a = nb::none(), "mode"_a = "affine", nb::kw_only(), "stream"_a = nb::none(),
      "x @ dequantize(w).T (transpose=True) or x @ dequantize(w) (transpose=False), without materialising "
      "the dequantized matrix.");

  m.def(
      "gather_qmm",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle biases, nb::handle lhs, nb::handle rhs,
         bool transpose, std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
         bool sorted_indices, nb::handle s) {
        return lz::gather_qmm(py::to_array(x), py::to_array(w), py::to_array(scales), optional_array(biases),
                              optional_array(lhs), optional_array(rhs), transpose, group_size, bits, mode,
                              sorted_indices, stream_of(s));
      },
      "x"_a, "w"_a, "scales"_a, "biases"_a = nb::none(), "lhs_indices"_a = nb::none(),
      "rhs_indices"_a = nb::none(), "transpose"_a = true, "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "affine", nb::kw_only(), "sorted_indices"_a = false, "stream"_a = nb::none(),
      "quantized_matmul on the batch matrices of x and w picked by lhs_indices and rhs_indices (which "
      "broadcast together): the result has shape indices.shape + (M, N).");

  m.def(
      "qqmm",
      [](nb::handle x, nb::handle w, nb::handle scales, std::optional<int> group_size, std::optional<int> bits,
         const std::string& mode, nb::handle global_scale_x, nb::handle global_scale_w, nb::handle s) {
        return lz::qqmm(py::to_array(x), py::to_array(w), optional_array(scales), group_size, bits, mode,
                        optional_array(global_scale_x), optional_array(global_scale_w), stream_of(s));
      },
      "x"_a, "w"_a, "scales"_a = nb::none(), "group_size"_a = nb::none(), "bits"_a = nb::none(),
      "mode"_a = "nvfp4", "global_scale_x"_a = nb::none(), "global_scale_w"_a = nb::none(), nb::kw_only(),
      "stream"_a = nb::none(),
      "x_q @ w_q.T with x quantized on the fly and w either packed by quantize() (uint32, with scales) or "
      "float and quantized on the fly; modes 'nvfp4' and 'mxfp8'. The result has x's dtype; gradients are "
      "straight-through (w must be float to receive one).");

  m.def(
      "gather_qqmm",
      [](nb::handle x, nb::handle w, nb::handle scales, nb::handle lhs, nb::handle rhs, std::optional<int> group_size,
         std::optional<int> bits, const std::string& mode, nb::handle global_scale_x, nb::handle global_scale_w,
         bool sorted_indices, nb::handle s) {
        return lz::gather_qqmm(py::to_array(x), py::to_array(w), optional_array(scales), optional_array(lhs),
                               optional_array(rhs), group_size, bits, mode, optional_array(global_scale_x),
                               optional_array(global_scale_w), sorted_indices, stream_of(s));
      },
      "x"_a, "w"_a, "scales"_a = nb::none(), "lhs_indices"_a = nb::none(), "rhs_indices"_a = nb::none(),
      "group_size"_a = nb::none(), "bits"_a = nb::none(), "mode"_a = "nvfp4", "global_scale_x"_a = nb::none(),
      "global_scale_w"_a = nb::none(), nb::kw_only(), "sorted_indices"_a = false, "stream"_a = nb::none(),
      "qqmm on the batch matrices of x and w picked by lhs_indices and rhs_indices (as gather_mm).");

  m.def(
      "to_fp8", [](nb::handle x, nb::handle s) { return lz::to_fp8(py::to_array(x), stream_of(s)); }, "x"_a,
      nb::kw_only(), "stream"_a = nb::none(),
      "float8 e4m3 codes (uint8) of x, rounded to nearest even and saturating at +-448.");
  m.def(
      "from_fp8",
      [](nb::handle x, lz::Dtype dtype, nb::handle s) { return lz::from_fp8(py::to_array(x), dtype, stream_of(s)); },
      "x"_a, "dtype"_a = lz::bfloat16, nb::kw_only(), "stream"_a = nb::none(),
      "The values of float8 e4m3 codes (uint8) as dtype.");
}
