// lazuli.core.fast: MLX's fused fast ops (lazuli/fast.h), with MLX's Python signatures.
#include "nn_ops.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "convert.h"

using lz::array;
namespace py = lz::py;

void init_fast(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("fast", "Fused fast ops: rms_norm, layer_norm, rope, attention.");
  m.def(
      "rms_norm",
      [](nb::handle x, nb::handle weight, float eps, nb::handle s) {
        return lz::fast::rms_norm(py::to_array(x), opt_array(weight), eps, py::stream_of(s));
      },
      "x"_a, "weight"_a.none(), "eps"_a, nb::kw_only(), "stream"_a = nb::none(),
      "x / sqrt(mean(x^2) + eps) over the last axis, times weight (None: no scaling).");
  m.def(
      "layer_norm",
      [](nb::handle x, nb::handle weight, nb::handle bias, float eps, nb::handle s) {
        return lz::fast::layer_norm(py::to_array(x), opt_array(weight), opt_array(bias), eps, py::stream_of(s));
      },
      "x"_a, "weight"_a.none(), "bias"_a.none(), "eps"_a, nb::kw_only(), "stream"_a = nb::none(),
      "(x - mean) / sqrt(var + eps) over the last axis, times weight plus bias (either may be None).");
  m.def(
      "rope",
      [](nb::handle a, int dims, bool traditional, std::optional<float> base, float scale, nb::handle offset,
         nb::handle freqs, nb::handle s) {
        // offset: an int, or an integer array (scalar or one per batch entry).
        array off = nb::isinstance<nb::int_>(offset) ? array(nb::cast<int>(offset), lz::int32) : py::to_array(offset);
        return lz::fast::rope(py::to_array(a), dims, traditional, base, scale, off, opt_array(freqs), py::stream_of(s));
      },
      "a"_a, "dims"_a, nb::kw_only(), "traditional"_a, "base"_a.none(), "scale"_a, "offset"_a,
      "freqs"_a = nb::none(), "stream"_a = nb::none(),
      "Rotary positional encoding of the first dims features of a (batch, ..., sequence, features); exactly one "
      "of base and freqs is given.");
  m.def(
      "scaled_dot_product_attention",
      [](nb::handle q, nb::handle k, nb::handle v, float scale, nb::handle mask, nb::handle sinks, bool force_fused,
         nb::handle s) {
        (void)force_fused;  // accepted as MLX's API lists it; there is no fused kernel to force yet
        std::string mode;
        std::optional<array> mask_array;
        if (nb::isinstance<nb::str>(mask)) {
          mode = nb::cast<std::string>(mask);
          if (mode != "causal")
            throw std::invalid_argument("[scaled_dot_product_attention] invalid mask option '" + mode +
                                        "'; it must be 'causal', an array or None.");
        } else {
          mask_array = opt_array(mask);
        }
        return lz::fast::scaled_dot_product_attention(py::to_array(q), py::to_array(k), py::to_array(v), scale, mode,
                                                      mask_array, opt_array(sinks), py::stream_of(s));
      },
      "q"_a, "k"_a, "v"_a, nb::kw_only(), "scale"_a, "mask"_a = nb::none(), "sinks"_a = nb::none(),
      "force_fused"_a = false, "stream"_a = nb::none(),
      "softmax(scale * q k^T + mask) v over (batch, heads, sequence, features) inputs; mask None, 'causal' or an "
      "array (bool: keep where true; otherwise additive); grouped-query heads; optional per-head sinks.");
}
